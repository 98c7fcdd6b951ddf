package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker/wasm"
)

func newWASMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wasm",
		Short: "Check and list WASM step handlers",
	}
	cmd.AddCommand(newWASMCheckCmd(), newWASMListCmd())
	return cmd
}

// wasmFlags are the executor settings the wasm commands share with
// tasker-worker: the worker configuration's [worker.wasm] section, which
// --modules and --map override.
type wasmFlags struct {
	modules []string
	mapping []string
	env     string
	root    string
}

func (f *wasmFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.modules, "modules", nil,
		"directories holding the <module>.wasm files, searched in order (default: worker.wasm.module_paths of the configuration)")
	cmd.Flags().StringArrayVar(&f.mapping, "map", nil,
		"map a template callable to a WASM handler: CALLABLE=module/function (repeatable; replaces worker.wasm.callables)")
	cmd.Flags().StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	cmd.Flags().StringVar(&f.root, "root", "", "configuration directory (default $"+configRootEnv+", else the copy built into this binary)")
}

// settings are the executor settings: the worker configuration's
// [worker.wasm], with the flags given on the command line in its place.
func (f *wasmFlags) settings() (wasm.Config, error) {
	cfg, err := loadConfig(f.root, config.ContextWorker, f.env)
	if err != nil {
		return wasm.Config{}, err
	}
	wc := wasm.ConfigFrom(cfg.Worker.Wasm)
	if len(f.modules) > 0 {
		wc.ModulePaths = f.modules
	}
	if len(f.mapping) > 0 {
		if wc.Callables, err = parseWASMMap(f.mapping); err != nil {
			return wasm.Config{}, err
		}
	}
	if len(wc.ModulePaths) == 0 {
		return wasm.Config{}, errors.New("no module paths: pass --modules DIR or set worker.wasm.module_paths")
	}
	return wc, nil
}

func (f *wasmFlags) executor(cmd *cobra.Command) (*wasm.Executor, error) {
	wc, err := f.settings()
	if err != nil {
		return nil, err
	}
	return wasm.New(cmd.Context(), wc, slog.New(slog.DiscardHandler))
}

// parseWASMMap reads CALLABLE=module/function pairs.
func parseWASMMap(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		callable, target, ok := strings.Cut(p, "=")
		if !ok || callable == "" {
			return nil, fmt.Errorf("--map %q: want CALLABLE=module/function", p)
		}
		out[callable] = target
	}
	return out, nil
}

func newWASMCheckCmd() *cobra.Command {
	var f wasmFlags
	cmd := &cobra.Command{
		Use:   "check [--modules DIR] [--map CALLABLE=module/function]... PATH...",
		Short: "Verify that every WASM callable of the templates is exported by a module",
		Long: `Parse every template under the paths (files, directories or globs) and check
each step whose handler.callable names a WASM handler (wasm:<module>/<function>,
or a callable mapped with --map): the module must be on the module paths, load,
speak the handler ABI, and export the function. Other callables are not
checked. Exits 1 when a template does not parse or a callable is not exported.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			x, err := f.executor(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = x.Close(cmd.Context()) }()
			tpls, err := template.LoadPaths(args, template.ParseOptions{})
			problems := 0
			for _, p := range templateProblems(nil, err) {
				fmt.Fprintln(cmd.OutOrStdout(), p.Error())
				problems++
			}
			for _, t := range tpls {
				key := t.NamespaceName + "/" + t.Name + "/" + t.Version
				n := 0
				for _, s := range t.Steps {
					if _, _, ok, _ := x.Resolve(s.Handler.Callable); !ok {
						continue
					}
					n++
					if err := x.Check(cmd.Context(), []string{s.Handler.Callable}); err != nil {
						fmt.Fprintf(cmd.OutOrStdout(), "%s step %s: %v\n", key, s.Name, err)
						problems++
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d WASM callable(s) checked\n", key, n)
			}
			if problems > 0 {
				return exitCodeError{code: 1, msg: fmt.Sprintf("%d problem(s)", problems)}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newWASMListCmd() *cobra.Command {
	var f wasmFlags
	cmd := &cobra.Command{
		Use:   "list [--modules DIR] [--map CALLABLE=module/function]...",
		Short: "List the callables the modules serve",
		Long: `Load every module on the module paths and print the callables a worker with
these settings serves, one a line: wasm:<module>/<function> for each handler
each module exports, and each mapped callable whose function exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			x, err := f.executor(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = x.Close(cmd.Context()) }()
			callables, err := x.ListCallables(cmd.Context())
			for _, c := range callables {
				fmt.Fprintln(cmd.OutOrStdout(), c)
			}
			return err
		},
	}
	f.register(cmd)
	return cmd
}
