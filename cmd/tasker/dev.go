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

	"github.com/tasker-go/tasker/cmd/internal/app"
	"github.com/tasker-go/tasker/internal/devpg"
	"github.com/tasker-go/tasker/orchestration"
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
the first run, reused later; needs the PostgreSQL server binaries). Ctrl-C
stops everything, the private cluster included.

--demo submits one task of every example workflow, shows each step as it
commits, prints a summary table and exits 0 only if every task completed as
expected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
	fl.StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	fl.StringVar(&f.bind, "bind", "127.0.0.1:8080", "address of the REST API; a busy port falls back to a free one")
	fl.StringVar(&f.dir, "dir", ".tasker", "folder for the private PostgreSQL cluster")
	fl.BoolVar(&f.demo, "demo", false, "run one task of every example workflow, print a summary and exit")
	fl.BoolVar(&f.demoFailures, "demo-failures", false, "with --demo, also run the examples that fail on purpose")
	fl.BoolVar(&f.embedded, "embedded-postgres", false, "always use the private PostgreSQL cluster")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the services do")
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

	ocfg.Orchestration.Web.BindAddress = freeBind(f.bind)
	registry := infra.NewMetricsRegistry()
	core, srv, err := app.Orchestration(in, ocfg, registry, buildVersion(), log)
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
	// The default search path usually does not exist in a fresh checkout:
	// the examples are built in.
	var paths []string
	for _, p := range wcfg.Templates.SearchPaths {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	wcfg.Templates.SearchPaths = paths
	if wcfg.Worker.WorkerID == "" {
		wcfg.Worker.WorkerID = infra.ProcessName("dev-worker", "")
	}
	svc, err := worker.Open(bg, worker.OpenOptions{Config: wcfg, Infra: in, Registry: handlers, Templates: examples,
		Metrics: registry, Logger: log})
	if err != nil {
		return err
	}
	wk := svc.Core()
	if err := core.Start(bg); err != nil {
		return err
	}
	if err := wk.Start(bg); err != nil {
		_ = core.Stop(bg)
		return err
	}
	if err := srv.Start(bg); err != nil {
		_ = wk.Stop(bg)
		_ = core.Stop(bg)
		return err
	}
	apiURL := displayURL(srv.Addr())
	fmt.Fprintf(out, "Tasker is running: REST API %s (schema %s, %d example templates, worker %s)\n",
		apiURL, ocfg.Database.Schema, len(examples), wk.WorkerID())

	var runErr error
	if f.demo {
		runErr = runDemo(ctx, out, apiURL, f.demoFailures)
	} else {
		fmt.Fprintf(out, "Try: tasker task create --url %s --namespace examples_linear --name square_chain --context '{\"even_number\":6}' --wait\n", apiURL)
		fmt.Fprintln(out, "Press Ctrl-C to stop.")
		<-ctx.Done()
	}
	stopDev(out, ocfg.Orchestration.ShutdownTimeout+wcfg.Worker.ShutdownGrace, srv, wk, core)
	return runErr
}

// stopDev stops the services in order: no new requests, no new claims, then
// orchestration drains.
func stopDev(out io.Writer, budget time.Duration, srv *web.Server, wk *worker.Core, core *orchestration.Core) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	_ = srv.Stop(ctx)
	_ = wk.Stop(ctx)
	_ = core.Stop(ctx)
	fmt.Fprintln(out, "Tasker stopped")
}

// devDatabase picks the database: a URL given in the environment
// (TASKER__DATABASE__URL or DATABASE_URL, already resolved into
// configured) as is, else the configured server when it answers (creating
// the database if missing), else the private cluster. A URL someone set
// explicitly is never swapped for the private cluster behind their back.
func devDatabase(ctx context.Context, out io.Writer, configured string, f devFlags) (string, *devpg.Cluster, error) {
	if (os.Getenv("TASKER__DATABASE__URL") != "" || os.Getenv("DATABASE_URL") != "") && !f.embedded {
		return configured, nil, nil
	}
	if !f.embedded {
		if err := ensureDatabase(ctx, configured); err == nil {
			fmt.Fprintf(out, "Using PostgreSQL at %s\n", config.RedactSecrets(configured))
			return configured, nil, nil
		} else if !isUnreachable(err) {
			return "", nil, fmt.Errorf("PostgreSQL at %s: %w", config.RedactSecrets(configured), err)
		}
	}
	dir := filepath.Join(f.dir, "postgres")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	c, err := devpg.New(dir)
	if err != nil {
		return "", nil, err
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

// freeBind returns addr when it can be listened on, else the same host with
// a free port.
func freeBind(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		_ = l.Close()
		return addr
	}
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, "0")
}
