package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/template"
)

func newTemplateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Validate, register, draw and inspect task templates",
	}
	cmd.AddCommand(newTemplateValidateCmd(), newTemplateVisualizeCmd(), newTemplateRegisterCmd(),
		newTemplateListCmd(), newTemplateShowCmd())
	return cmd
}

func newTemplateRegisterCmd() *cobra.Command {
	var f databaseFlags
	cmd := &cobra.Command{
		Use:   "register PATH...",
		Short: "Validate templates and upsert them into the database",
		Long: `Parse and validate every template under the paths (files, directories or
globs), then upsert them into the database one by one, as a worker does at
start.

Templates are parsed for the configuration environment (--env, else
$TASKER_ENV, else development), whose environments.<env> step overrides are
merged in, exactly as a worker of that environment registers them.

Nothing is written if any template is invalid. Each template is registered in
its own transaction: if the database fails part-way, the templates already
printed are registered and the rest are not; registering is an upsert, so
running the command again is safe.

The database is --database-url, else $TASKER__DATABASE__URL, else
$DATABASE_URL, else the configuration's database.url.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			tpls, err := template.LoadPaths(args, template.ParseOptions{Environment: cfg.Env})
			if err == nil {
				for _, t := range tpls {
					if verr := t.Validate(); verr != nil {
						err = verr
						break
					}
				}
			}
			if err != nil {
				for _, p := range templateProblems(nil, err) {
					fmt.Fprintln(cmd.OutOrStdout(), p.Error())
				}
				return exitCodeError{code: 1, msg: "no template was registered"}
			}
			in, err := infra.Connect(cmd.Context(), cfg, "tasker-cli", slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer in.Close()
			if err := in.CheckSchema(cmd.Context()); err != nil {
				return err
			}
			named, err := in.Store.RegisterTemplates(cmd.Context(), tpls)
			for _, n := range named {
				fmt.Fprintf(cmd.OutOrStdout(), "registered %s/%s/%s (%d steps)\n", n.Namespace, n.Name, n.Version, n.StepCount)
			}
			if err != nil && len(named) > 0 {
				return fmt.Errorf("%w (%d of %d templates were registered, as listed above; registering again is safe)",
					err, len(named), len(tpls))
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().Lookup("env").Usage = "configuration environment, also selecting each template's environments.ENV overrides (default $TASKER_ENV, else development)"
	return cmd
}
