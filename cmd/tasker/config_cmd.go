package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
)

// configRootEnv names the variable that sets the default of --root.
const configRootEnv = infra.ConfigRootEnv

// newConfigCmd is `tasker config`: show and check the layered configuration.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or validate the layered configuration",
		Long: `Show or validate the configuration a service would run with: the built-in
defaults, then shared/base.toml and shared/environments/<env>.toml, then the
context's base.toml and environments/<env>.toml, then ${VAR} substitution,
TASKER_TEMPLATE_PATH and TASKER__SECTION__KEY=value overrides from the
environment. A tasker-core configuration file named by TASKER_CONFIG_PATH is
translated and layered on top (see docs/migrating.md). See
docs/configuration.md.`,
	}
	cmd.AddCommand(newConfigShowCmd(), newConfigValidateCmd(), newConfigGenerateCmd(), newConfigExplainCmd())
	return cmd
}

// configFlags are the flags shared by the config subcommands.
type configFlags struct {
	context string
	env     string
	root    string
}

func (f *configFlags) register(cmd *cobra.Command, contextHelp string) {
	cmd.Flags().StringVar(&f.context, "context", "", contextHelp)
	cmd.Flags().StringVar(&f.env, "env", "", "environment: test, development or production (default $TASKER_ENV, else development)")
	cmd.Flags().StringVar(&f.root, "root", "", "directory holding shared/, orchestration/ and worker/ (default $"+configRootEnv+", else the copy built into this binary)")
}

// loadConfig loads one context's configuration the way every tasker
// command does (see infra.LoadConfig): the process environment feeds
// TASKER_ENV, ${VAR} substitution, DATABASE_URL and TASKER__ overrides;
// root "" falls back to $TASKER_CONFIG_ROOT, then to the embedded files.
func loadConfig(root, context, env string) (*config.Config, error) {
	cfg, err := infra.LoadConfig(infra.ConfigOptions{Root: root, Context: context, Env: env, Environ: os.Environ()})
	if err != nil {
		return nil, fmt.Errorf("loading %s configuration: %w", context, err)
	}
	return cfg, nil
}

func checkContext(context string) error {
	if !slices.Contains(config.Contexts, context) {
		return fmt.Errorf("--context %q: want shared, orchestration or worker", context)
	}
	return nil
}

func newConfigShowCmd() *cobra.Command {
	var flags configFlags
	var output string
	cmd := &cobra.Command{
		Use:   "show --context shared|orchestration|worker [--env ENV] [--root DIR] [--output toml|json]",
		Short: "Print the merged configuration, with secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkContext(flags.context); err != nil {
				return err
			}
			if output != "toml" && output != "json" {
				return fmt.Errorf("--output %q: want toml or json", output)
			}
			cfg, err := loadConfig(flags.root, flags.context, flags.env)
			if err != nil {
				return reportProblems(cmd.ErrOrStderr(), err)
			}
			return writeConfig(cmd.OutOrStdout(), cfg.Redacted(), output)
		},
	}
	flags.register(cmd, "which service's configuration: shared, orchestration or worker (required)")
	_ = cmd.MarkFlagRequired("context") // the flag exists
	cmd.Flags().StringVarP(&output, "output", "o", "toml", "output format: toml or json")
	return cmd
}

func writeConfig(w io.Writer, cfg *config.Config, output string) error {
	var data []byte
	if output == "json" {
		raw, err := cfg.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, raw, "", "  "); err != nil {
			return fmt.Errorf("indenting JSON: %w", err)
		}
		pretty.WriteByte('\n')
		data = pretty.Bytes()
	} else {
		body, err := cfg.MarshalTOML()
		if err != nil {
			return fmt.Errorf("encoding TOML: %w", err)
		}
		header := fmt.Sprintf("# Tasker configuration: context %s, environment %s (passwords shown as %s)\n\n",
			cfg.Context, cfg.Env, config.SecretMask)
		data = append([]byte(header), body...)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("writing configuration: %w", err)
	}
	return nil
}

// reportProblems prints a load failure one problem per line and returns an
// exit status 1 with nothing more to print.
func reportProblems(w io.Writer, err error) error {
	var ps config.Problems
	if !errors.As(err, &ps) {
		return err
	}
	for _, p := range ps {
		fmt.Fprintln(w, p.Error())
	}
	return exitCodeError{code: 1}
}

func newConfigValidateCmd() *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "validate [--context shared|orchestration|worker] [--env ENV] [--root DIR]",
		Short: "Check the configuration; print ok, or one problem per line and exit 1",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			contexts := config.Contexts
			if flags.context != "" {
				if err := checkContext(flags.context); err != nil {
					return err
				}
				contexts = []string{flags.context}
			}
			// Shared files are loaded by every context: print each
			// problem once.
			var lines []string
			for _, ctx := range contexts {
				_, err := loadConfig(flags.root, ctx, flags.env)
				if err == nil {
					continue
				}
				var ps config.Problems
				if !errors.As(err, &ps) {
					return err
				}
				for _, p := range ps {
					if line := p.Error(); !slices.Contains(lines, line) {
						lines = append(lines, line)
					}
				}
			}
			out := cmd.OutOrStdout()
			if len(lines) == 0 {
				fmt.Fprintln(out, "ok")
				return nil
			}
			fmt.Fprintln(out, strings.Join(lines, "\n"))
			return exitCodeError{code: 1}
		},
	}
	flags.register(cmd, "which service's configuration: shared, orchestration or worker (default: all three)")
	return cmd
}
