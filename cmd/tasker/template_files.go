package main

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/template"
)

// maxStdinTemplate caps what `template visualize -` reads from stdin (Parse
// refuses more than 4 MiB anyway).
const maxStdinTemplate = 4 << 20

// newTemplateValidateCmd builds `tasker template validate PATH...`.
func newTemplateValidateCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check task template files; print ok, or one problem per line and exit 1",
		Long: `Parse and validate task template YAML files.

PATH may be a file, a directory (searched recursively for *.yml and *.yaml)
or a glob such as 'config/tasks/**/*.{yml,yaml}'. Each problem is printed on
its own line as "file:line: field: message"; the exit status is 1 when there
is any problem and 0 when every template is valid.`,
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := template.ParseOptions{Environment: env}
			tpls, err := template.LoadPaths(args, opts)
			problems := templateProblems(nil, err)
			for _, t := range tpls {
				problems = templateProblems(problems, t.Validate())
			}
			out := cmd.OutOrStdout()
			if len(problems) == 0 {
				noun := "templates"
				if len(tpls) == 1 {
					noun = "template"
				}
				fmt.Fprintf(out, "ok: %d %s\n", len(tpls), noun)
				return nil
			}
			sortTemplateProblems(problems)
			for _, p := range problems {
				fmt.Fprintln(out, p.Error())
			}
			return exitCodeError{code: 1}
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "merge each template's environments.ENV step overrides before validating (for example test)")
	return cmd
}

// newTemplateVisualizeCmd builds `tasker template visualize PATH`.
func newTemplateVisualizeCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "visualize PATH",
		Short: "Print a template's step graph as a Mermaid diagram",
		Long: `Print the step graph of a task template as a Mermaid flowchart.

PATH is a template file, a directory, a glob, or - for standard input. When it
holds several templates, each diagram is headed by a "%% namespace/name/version"
comment and separated from the next by a blank line. Problems go to standard
error; an invalid template is still drawn (a cycle is easier to see than to
read), but the exit status is 1.`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := template.ParseOptions{Environment: env}
			var (
				tpls []*template.Template
				err  error
			)
			if args[0] == "-" {
				data, rerr := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxStdinTemplate+1))
				switch {
				case rerr != nil:
					return fmt.Errorf("reading standard input: %w", rerr)
				case len(data) > maxStdinTemplate:
					return fmt.Errorf("reading standard input: more than %d bytes", maxStdinTemplate)
				}
				tpls, err = template.Parse(data, "<stdin>", opts)
			} else {
				tpls, err = template.LoadPaths(args, opts)
			}
			problems := templateProblems(nil, err)
			for _, t := range tpls {
				problems = templateProblems(problems, t.Validate())
			}
			out := cmd.OutOrStdout()
			for i, t := range tpls {
				if len(tpls) > 1 {
					if i > 0 {
						fmt.Fprintln(out)
					}
					fmt.Fprintf(out, "%%%% %s\n", t.Key())
				}
				fmt.Fprint(out, t.Mermaid(nil))
			}
			if len(problems) == 0 {
				return nil
			}
			sortTemplateProblems(problems)
			for _, p := range problems {
				fmt.Fprintln(cmd.ErrOrStderr(), p.Error())
			}
			return exitCodeError{code: 1}
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "merge each template's environments.ENV step overrides first")
	return cmd
}

// templateProblems appends the problems in err (a template.ValidationErrors,
// or any other error as one problem) to problems.
func templateProblems(problems []*template.Error, err error) []*template.Error {
	if err == nil {
		return problems
	}
	var ve template.ValidationErrors
	if errors.As(err, &ve) {
		return append(problems, ve...)
	}
	return append(problems, &template.Error{Message: err.Error(), Err: err})
}

// sortTemplateProblems orders problems by file name, then line.
func sortTemplateProblems(problems []*template.Error) {
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
