package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/store/migrations"
)

// serverFlags are `tasker server`'s flags.
type serverFlags struct {
	root    string
	env     string
	bind    string
	migrate bool
	// Hidden: point the server at another database or schema without a
	// configuration file (tests, one-off runs). TASKER__DATABASE__URL and
	// TASKER__DATABASE__SCHEMA do the same through the environment.
	databaseURL string
	schema      string
}

// newServerCmd is `tasker server`: the orchestration service with its REST
// API, until SIGINT or SIGTERM.
func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server [--config-root DIR] [--env ENV] [--bind HOST:PORT] [--migrate]",
		Short: "Run the orchestration service and its REST API",
		Long: `Run the orchestration service: it creates tasks, enqueues ready steps,
processes step results, retries and finalizes tasks, and serves the REST API
(/v1/tasks, /health, /metrics, /api-docs/openapi.json).

The configuration is the orchestration context's (see tasker config show
--context orchestration). The database must hold the Tasker schema: run
tasker migrate up first, or pass --migrate. SIGINT or SIGTERM stop the server
gracefully within orchestration.shutdown_timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServer(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
	fl.StringVar(&f.env, "env", "", "configuration environment: test, development or production (default $TASKER_ENV, else development)")
	fl.StringVar(&f.bind, "bind", "", "address the REST API listens on, host:port (overrides orchestration.web.bind_address)")
	fl.BoolVar(&f.migrate, "migrate", false, "apply pending database migrations before starting")
	fl.StringVar(&f.databaseURL, "database-url", "", "PostgreSQL URL (overrides database.url)")
	fl.StringVar(&f.schema, "schema", "", "schema holding Tasker's tables (overrides database.schema)")
	_ = fl.MarkHidden("database-url") // the flags exist
	_ = fl.MarkHidden("schema")
	return cmd
}

func runServer(cmd *cobra.Command, f serverFlags) error {
	ctx := cmd.Context()
	cfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
	if err != nil {
		return reportProblems(cmd.ErrOrStderr(), err)
	}
	if f.databaseURL != "" {
		cfg.Database.URL = f.databaseURL
	}
	if f.schema != "" {
		cfg.Database.Schema = f.schema
	}
	if f.bind != "" {
		if _, _, err := net.SplitHostPort(f.bind); err != nil {
			return fmt.Errorf("--bind %q: want host:port (port 0 picks a free port): %w", f.bind, err)
		}
		cfg.Orchestration.Web.BindAddress = f.bind
	}
	if !migrations.ValidSchema(cfg.Database.Schema) {
		return fmt.Errorf("database.schema %q: use lower-case letters, digits and underscores", cfg.Database.Schema)
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	if f.migrate {
		if err := migrate(ctx, cmd.OutOrStdout(), cfg.Database.URL, cfg.Database.Schema); err != nil {
			return err
		}
	}

	svc, err := server.Open(ctx, server.OpenOptions{Config: cfg, Version: buildVersion(), Logger: log})
	if errors.Is(err, infra.ErrNoSchema) {
		return fmt.Errorf("%w (or start the server with --migrate)", err)
	}
	if err != nil {
		return reportProblems(cmd.ErrOrStderr(), err)
	}
	if err := svc.Start(ctx); err != nil {
		_ = svc.Stop(context.WithoutCancel(ctx))
		return bindError(err)
	}
	out := cmd.OutOrStdout()
	name := svc.InstanceID()
	if addr := svc.Addr(); addr != "" {
		fmt.Fprintf(out, "tasker server %s: REST API on %s (schema %s)\n", name, displayURL(addr), cfg.Database.Schema)
	} else {
		fmt.Fprintf(out, "tasker server %s: running without the REST API (orchestration.web.enabled = false)\n", name)
	}

	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.Orchestration.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Orchestration.ShutdownTimeout)
	defer cancel()
	// The API first, so no new task arrives while the core drains.
	if err := svc.Stop(sctx); err != nil {
		log.Warn("graceful stop incomplete", "err", err)
	}
	fmt.Fprintln(out, "tasker server stopped")
	return nil
}

// migrate applies pending migrations (--migrate).
func migrate(ctx context.Context, out io.Writer, url, schema string) error {
	m, err := migrations.Open(ctx, url, schema)
	if err != nil {
		return fmt.Errorf("--migrate: %w (is PostgreSQL running at %s?)", err, config.RedactSecrets(url))
	}
	defer m.Close()
	n, err := m.Up(ctx)
	if err != nil {
		return fmt.Errorf("--migrate: %w", err)
	}
	fmt.Fprintf(out, "applied %d migration(s) to schema %s\n", n, schema)
	return nil
}

// displayURL turns a listen address into a URL a person can open.
func displayURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
