package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/cmd/internal/app"
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
		Long: "Parses and validates every template under the paths (files, directories or globs) for the\n" +
			"environment, then registers them all in one go. Nothing is written if any template is invalid.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tpls, err := template.LoadPaths(args, template.ParseOptions{Environment: f.env})
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
			cfg, err := loadConfig(f.root, "shared", f.env)
			if err != nil {
				return err
			}
			url, schema, err := f.resolve()
			if err != nil {
				return err
			}
			cfg.Database.URL, cfg.Database.Schema = url, schema
			infra, err := app.Connect(cmd.Context(), cfg, "tasker-cli", slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			defer infra.Close()
			named, err := infra.Store.RegisterTemplates(cmd.Context(), tpls)
			if err != nil {
				return err
			}
			for _, n := range named {
				fmt.Fprintf(cmd.OutOrStdout(), "registered %s/%s/%s (%d steps)\n", n.Namespace, n.Name, n.Version, n.StepCount)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
