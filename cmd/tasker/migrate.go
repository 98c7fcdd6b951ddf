package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/store/migrations"
)

// databaseFlags are the connection flags shared by commands that talk to
// PostgreSQL directly.
type databaseFlags struct {
	url    string
	schema string
	env    string
	root   string
}

func (f *databaseFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "database-url", "", "PostgreSQL URL (default $TASKER__DATABASE__URL, else $DATABASE_URL, else the configuration's database.url)")
	cmd.Flags().StringVar(&f.schema, "schema", "", "schema holding Tasker's tables (default $TASKER__DATABASE__SCHEMA, else the configuration's database.schema)")
	cmd.Flags().StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	cmd.Flags().StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
}

// load returns the shared configuration with the flags applied; see
// infra.LoadConfig for where the URL and schema come from.
func (f *databaseFlags) load() (*config.Config, error) {
	cfg, err := infra.LoadConfig(infra.ConfigOptions{
		Root: f.root, Context: config.ContextShared, Env: f.env, DatabaseURL: f.url, Schema: f.schema, Environ: os.Environ(),
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s configuration: %w", config.ContextShared, err)
	}
	return cfg, nil
}

func newMigrateCmd() *cobra.Command {
	var f databaseFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list the database migrations",
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMigrator(cmd, &f)
			if err != nil {
				return err
			}
			defer m.Close()
			n, err := m.Up(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s)\n", n)
			return nil
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Roll back the most recent migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMigrator(cmd, &f)
			if err != nil {
				return err
			}
			defer m.Close()
			n, err := m.Down(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back %d migration(s)\n", n)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := openMigrator(cmd, &f)
			if err != nil {
				return err
			}
			defer m.Close()
			st, err := m.Status(cmd.Context())
			if err != nil {
				return err
			}
			for _, s := range st {
				mark := "pending"
				if s.Applied {
					mark = "applied"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %05d %s\n", mark, s.Version, s.Name)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{up, down, status} {
		f.register(c)
		cmd.AddCommand(c)
	}
	return cmd
}

func openMigrator(cmd *cobra.Command, f *databaseFlags) (*migrations.Migrator, error) {
	cfg, err := f.load()
	if err != nil {
		return nil, err
	}
	url := cfg.Database.URL
	m, err := migrations.Open(cmd.Context(), url, cfg.Database.Schema)
	if err != nil {
		return nil, fmt.Errorf("%w (is PostgreSQL running at %s?)", err, config.RedactSecrets(url))
	}
	return m, nil
}
