package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/internal/brokervhost"
	"github.com/tasker-go/tasker/internal/devpg"
	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

type devFlags struct {
	root         string
	env          string
	bind         string
	dir          string
	demo         bool
	demoFailures bool
	embedded     bool
	verbose      bool
	// pgSettings are server settings for the private cluster (name=value).
	pgSettings []string
	// pgStatements preloads pg_stat_statements in the private cluster when
	// it is installed.
	pgStatements bool
	// rabbitmq runs the queues on the broker at rabbitmqURL ("": the
	// configured queues.rabbitmq.url).
	rabbitmq    bool
	rabbitmqURL string
}

func newDevCmd() *cobra.Command {
	var f devFlags
	cmd := &cobra.Command{
		Use:   "dev [--demo]",
		Short: "Run a complete system in one process: database, orchestration, REST API and the native Go worker",
		Long: `Run everything a newcomer needs in one process: orchestration with its REST API and
the native Go worker with the example templates registered.

The database is TASKER__DATABASE__URL or DATABASE_URL when set (used as
given, never replaced by the private cluster); otherwise the local server at the
configured database.url when one answers (the database is created if it does
not exist); otherwise a private PostgreSQL cluster under .tasker/ (created on
the first run, reused later; needs the PostgreSQL server binaries). The
database used is printed at start-up in every case. Ctrl-C stops everything,
the private cluster included.

The REST API listens on --bind, else TASKER__ORCHESTRATION__WEB__BIND_ADDRESS
(or a bind_address set in a configuration file), else 127.0.0.1:8080, the
address the client commands' default --url expects. When that port is taken,
dev stops and says so; it never moves to another port unless asked to with
--bind 127.0.0.1:0 (a free port, printed at start-up).

Templates on templates.search_paths (TASKER_TEMPLATE_PATH) are registered
besides the built-in examples; the default list is empty.

--rabbitmq runs the queues on RabbitMQ instead of PostgreSQL (queues.backend =
"rabbitmq"): the broker at --rabbitmq-url, else queues.rabbitmq.url
(TASKER__QUEUES__RABBITMQ__URL, RABBITMQ_URL), whose default is the local
broker amqp://guest:guest@127.0.0.1:5672/. Its default virtual host is used
as the URL says; dev stops at once, naming the URL, when nothing answers there.

--demo submits one task of every example workflow, shows each step as it
commits, prints a summary table and exits 0 only if every task completed as
expected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
	fl.StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	fl.StringVar(&f.bind, "bind", "", "address of the REST API, host:port (default $TASKER__ORCHESTRATION__WEB__BIND_ADDRESS, else "+devBindDefault+"); a busy port is an error, port 0 picks a free one")
	fl.StringVar(&f.dir, "dir", ".tasker", "folder for the private PostgreSQL cluster")
	fl.BoolVar(&f.demo, "demo", false, "run one task of every example workflow, print a summary and exit")
	fl.BoolVar(&f.demoFailures, "demo-failures", false, "with --demo, also run the examples that fail on purpose")
	fl.BoolVar(&f.embedded, "embedded-postgres", false, "always use the private PostgreSQL cluster")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the services do")
	fl.BoolVar(&f.rabbitmq, "rabbitmq", false, "run the queues on RabbitMQ (queues.backend = rabbitmq)")
	fl.StringVar(&f.rabbitmqURL, "rabbitmq-url", "", "with --rabbitmq: the broker's AMQP URL (default queues.rabbitmq.url, else amqp://guest:guest@127.0.0.1:5672/)")
	return cmd
}

func runDev(cmd *cobra.Command, f devFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	ocfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
	if err != nil {
		return reportProblems(cmd.ErrOrStderr(), err)
	}
	wcfg, err := loadConfig(f.root, config.ContextWorker, f.env)
	if err != nil {
		return reportProblems(cmd.ErrOrStderr(), err)
	}
	logLevel := slog.LevelWarn
	if f.verbose {
		logLevel = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: logLevel}))
	ocfg.Orchestration.Web.BindAddress = devBindAddress(f.bind, ocfg.Orchestration.Web.BindAddress)
	if err := checkBind(ctx, ocfg.Orchestration.Web.BindAddress); err != nil {
		return err
	}
	if err := devBroker(ctx, out, f, ocfg, wcfg); err != nil {
		return err
	}

	// Everything below outlives the signal and is torn down in order.
	bg := context.WithoutCancel(ctx)
	url, cluster, err := devDatabase(bg, out, ocfg.Database.URL, f)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "stopping the private PostgreSQL:", err)
			} else {
				fmt.Fprintln(out, "private PostgreSQL stopped")
			}
		}()
	}
	ocfg.Database.URL, wcfg.Database.URL = url, url
	if err := migrations.Migrate(bg, url, ocfg.Database.Schema); err != nil {
		return err
	}
	// One pool serves both services.
	ocfg.Database.Pool.MaxConnections += wcfg.Database.Pool.MaxConnections
	in, err := infra.Connect(bg, ocfg, "tasker-dev", log)
	if err != nil {
		return err
	}
	defer in.Close()

	registry := infra.NewMetricsRegistry()
	orch, err := server.Open(bg, server.OpenOptions{Config: ocfg, Infra: in, Metrics: registry,
		Version: buildVersion(), Logger: log})
	if err != nil {
		return err
	}
	handlers := worker.NewRegistry()
	if err := native.Register(handlers); err != nil {
		return err
	}
	examples, err := native.Templates()
	if err != nil {
		return err
	}
	wcfg.Worker.Web.Enabled = false
	if wcfg.Worker.WorkerID == "" {
		wcfg.Worker.WorkerID = infra.ProcessName("dev-worker", "")
	}
	svc, err := worker.Open(bg, worker.OpenOptions{Config: wcfg, Infra: in, Registry: handlers, Templates: examples,
		Metrics: registry, Logger: log})
	if err != nil {
		return err
	}
	wk := svc.Core()
	if err := orch.Core().Start(bg); err != nil {
		return err
	}
	if err := wk.Start(bg); err != nil {
		_ = orch.Stop(bg)
		return err
	}
	if err := orch.API().Start(bg); err != nil {
		_ = wk.Stop(bg)
		_ = orch.Stop(bg)
		return bindError(err)
	}
	apiURL := displayURL(orch.Addr())
	fmt.Fprintf(out, "Tasker is running: REST API %s (schema %s, %d example templates, worker %s)\n",
		apiURL, ocfg.Database.Schema, len(examples), wk.WorkerID())
	fmt.Fprintf(out, "Dashboard: %s%s\n", apiURL, web.DashboardPath)

	var runErr error
	if f.demo {
		runErr = runDemo(ctx, out, apiURL, f.demoFailures)
	} else {
		fmt.Fprintf(out, "Try: tasker task create --url %s --namespace examples_linear --name square_chain --context '{\"even_number\":6}' --wait\n", apiURL)
		fmt.Fprintln(out, "Press Ctrl-C to stop.")
		<-ctx.Done()
	}
	stopDev(out, ocfg.Orchestration.ShutdownTimeout+wcfg.Worker.ShutdownGrace, orch, wk)
	return runErr
}

// devBroker puts both services on the broker when --rabbitmq asks for it,
// after checking that something answers at its address (the connection
// itself, credentials included, is checked when the services connect, and
// its error names the URL too).
func devBroker(ctx context.Context, out io.Writer, f devFlags, cfgs ...*config.Config) error {
	if f.rabbitmqURL != "" && !f.rabbitmq {
		return errors.New("--rabbitmq-url: only with --rabbitmq")
	}
	if !f.rabbitmq {
		return nil
	}
	url := f.rabbitmqURL
	if url == "" {
		url = cfgs[0].Queues.RabbitMQ.URL
	}
	shown := config.RedactSecrets(url)
	if err := brokervhost.Reachable(ctx, url); err != nil {
		return fmt.Errorf("--rabbitmq: cannot connect to the broker at %s: %w (start RabbitMQ, or give its URL with --rabbitmq-url)", shown, err)
	}
	for _, c := range cfgs {
		c.Queues.Backend, c.Queues.RabbitMQ.URL = config.BackendRabbitMQ, url
	}
	fmt.Fprintf(out, "Using RabbitMQ at %s for the queues\n", shown)
	return nil
}

// stopDev stops the services in order: no new requests, no new claims, then
// orchestration drains (orch.Stop stops its API again, which is a no-op).
func stopDev(out io.Writer, budget time.Duration, orch *server.Service, wk *worker.Core) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	_ = orch.API().Stop(ctx)
	_ = wk.Stop(ctx)
	_ = orch.Stop(ctx)
	fmt.Fprintln(out, "Tasker stopped")
}

// devDatabase picks the database: a URL given in the environment
// (TASKER__DATABASE__URL or DATABASE_URL, already resolved into
// configured) as is, else the configured server when it answers (creating
// the database if missing), else the private cluster. A URL someone set
// explicitly is never swapped for the private cluster behind their back.
func devDatabase(ctx context.Context, out io.Writer, configured string, f devFlags) (string, *devpg.Cluster, error) {
	if !f.embedded {
		for _, name := range []string{"TASKER__DATABASE__URL", "DATABASE_URL"} {
			if os.Getenv(name) != "" {
				fmt.Fprintf(out, "Using PostgreSQL at %s (from %s)\n", config.RedactSecrets(configured), name)
				return configured, nil, nil
			}
		}
	}
	if !f.embedded {
		if err := ensureDatabase(ctx, configured); err == nil {
			fmt.Fprintf(out, "Using PostgreSQL at %s (database.url)\n", config.RedactSecrets(configured))
			return configured, nil, nil
		} else if !isUnreachable(err) {
			return "", nil, fmt.Errorf("PostgreSQL at %s: %w", config.RedactSecrets(configured), err)
		}
	}
	// The folder is searchable by others: when tasker runs as root the
	// server runs as the postgres user, which must reach its cluster.
	dir := filepath.Join(f.dir, "postgres")
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // the postgres user must be able to enter it
		return "", nil, err
	}
	c, err := devpg.New(dir)
	if err != nil {
		return "", nil, err
	}
	c.Settings = f.pgSettings
	if f.pgStatements && c.HasLibrary("pg_stat_statements") {
		c.Settings = append(c.Settings, "shared_preload_libraries=pg_stat_statements")
	}
	fresh := !c.Exists()
	if err := c.Init(ctx); err != nil {
		return "", nil, err
	}
	if err := c.Start(ctx); err != nil {
		return "", nil, err
	}
	verb := "Reusing"
	if fresh {
		verb = "Created"
	}
	fmt.Fprintf(out, "%s the private PostgreSQL cluster in %s (port %d)\n", verb, c.Dir, c.Port)
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tasker?sslmode=disable", c.Port)
	fmt.Fprintf(out, "Using PostgreSQL at %s (the private cluster)\n", url)
	if err := ensureDatabase(ctx, url); err != nil {
		_ = c.Stop(ctx)
		return "", nil, err
	}
	return url, c, nil
}

// ensureDatabase connects to url, creating its database when the server
// says it does not exist.
func ensureDatabase(ctx context.Context, url string) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		return conn.Close(cctx)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" { // invalid_catalog_name
		return err
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(cctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(cctx)
	_, err = conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil && !isDuplicateDatabase(err) {
		return fmt.Errorf("creating database %s: %w", cfg.Database, err)
	}
	return nil
}

func isDuplicateDatabase(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P04"
}

// isUnreachable reports errors that mean "no server there" (as opposed to a
// server that refused us).
func isUnreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded)
}
