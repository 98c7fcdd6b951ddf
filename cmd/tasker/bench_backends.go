package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tasker-go/tasker/internal/brokervhost"
	"github.com/tasker-go/tasker/shared/config"
)

// benchBackends are the queue backends --backend can measure.
var benchBackends = []string{string(config.BackendPostgres), string(config.BackendRabbitMQ)}

// parseBackends reads --backend: a comma list of benchBackends, each once;
// empty means the configured backend (queues.backend,
// TASKER_MESSAGING_BACKEND), given as configured.
func parseBackends(s string, configured config.Backend) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.ToLower(strings.TrimSpace(b))
		if b == "" {
			continue
		}
		if !slices.Contains(benchBackends, b) {
			return nil, fmt.Errorf("--backend: unknown queue backend %q (choose from %s)", b, strings.Join(benchBackends, ", "))
		}
		if slices.Contains(out, b) {
			return nil, fmt.Errorf("--backend: %q is listed twice", b)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		if configured == "" {
			configured = config.BackendPostgres
		}
		out = []string{string(configured)}
	}
	return out, nil
}

// benchDB is the database every system of a run uses, each in a schema of
// its own.
type benchDB struct {
	url string
	// stop stops the private cluster, if one was started.
	stop func()
}

// openBenchDB picks the database as tasker dev does (see devDatabase).
func openBenchDB(ctx context.Context, out io.Writer, f benchFlags) (*benchDB, error) {
	ocfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
	if err != nil {
		return nil, err
	}
	df := devFlags{dir: f.dir, embedded: f.embeddedPG, pgStatements: true}
	if f.autovacuum != "" {
		df.pgSettings = append(df.pgSettings, "autovacuum="+f.autovacuum)
	}
	url, cluster, err := devDatabase(context.WithoutCancel(ctx), out, ocfg.Database.URL, df)
	if err != nil {
		return nil, err
	}
	return &benchDB{url: url, stop: func() {
		if cluster != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = cluster.Stop(sctx)
		}
	}}, nil
}

// benchBroker creates the private virtual host a rabbitmq system runs on,
// on the broker of --rabbitmq-url, else queues.rabbitmq.url (RABBITMQ_URL,
// TASKER__QUEUES__RABBITMQ__URL), whose default is the local broker: the
// benchmark's queues and delay buckets then share nothing with a system
// already running on that broker, and go with the virtual host.
func benchBroker(ctx context.Context, out io.Writer, f benchFlags, cfg *config.Config) (*brokervhost.VHost, error) {
	base := f.rabbitmqURL
	if base == "" {
		base = cfg.Queues.RabbitMQ.URL
	}
	shown := config.RedactSecrets(base)
	if err := brokervhost.Reachable(ctx, base); err != nil {
		return nil, fmt.Errorf("--backend rabbitmq: %w (broker %s, from --rabbitmq-url or queues.rabbitmq.url)", err, shown)
	}
	v, err := brokervhost.Create(ctx, base, "tasker_bench_")
	if errors.Is(err, brokervhost.ErrNoRabbitmqctl) {
		return nil, fmt.Errorf("--backend rabbitmq runs the system on a private virtual host, created with rabbitmqctl on the broker's machine: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--backend rabbitmq: creating a virtual host on %s: %w", shown, err)
	}
	fmt.Fprintf(out, "Using RabbitMQ at %s (private virtual host %s)\n", shown, v.Name)
	return v, nil
}

// printBackends prints the queue backends side by side.
func printBackends(out io.Writer, r *benchReport) {
	if len(r.Backends) < 2 || len(r.Handlers) == 0 {
		return
	}
	fmt.Fprintf(out, "\nqueue backends side by side (%s worker; linear 4 latency in ms)\n", r.Handlers[0])
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tclient p50\tp99\tserver p50\tp99\tsteps/s\tdb xacts/step\tstatements/step\t")
	for _, b := range r.Backends {
		run := r.ByBackend[b]
		if run == nil {
			continue
		}
		cells := []string{b, "-", "-", "-", "-", "-", "-", "-"}
		if l := run.Latency["linear4"]; l != nil {
			cells[1], cells[2] = fmt.Sprintf("%.1f", l.ClientMS.P50), fmt.Sprintf("%.1f", l.ClientMS.P99)
			cells[3], cells[4] = fmt.Sprintf("%.1f", l.ServerMS.P50), fmt.Sprintf("%.1f", l.ServerMS.P99)
		}
		if t := run.Throughput; t != nil {
			cells[5] = fmt.Sprintf("%.0f", t.StepsPerSec)
			if t.DBXactsPerStep != nil {
				cells[6] = fmt.Sprintf("%.2f", *t.DBXactsPerStep)
			}
			if t.DBStatementsPerStep != nil {
				cells[7] = fmt.Sprintf("%.2f", *t.DBStatementsPerStep)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	_ = tw.Flush()
	for _, b := range r.Backends[1:] {
		if run := r.ByBackend[b]; run != nil && run.Latency["linear4"] != nil {
			printStages(out, b+" backend", run.Latency["linear4"].Stages)
		}
	}
}
