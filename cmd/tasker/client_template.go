package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/shared/template"
)

// newTemplateListCmd builds `tasker template list`: the templates the
// orchestration server knows, from its REST API.
func newTemplateListCmd() *cobra.Command {
	f := &apiFlags{}
	var namespace string
	cmd := apiCommand(&cobra.Command{
		Use:   "list [--namespace NS]",
		Short: "List the templates registered with the server (REST API)",
		Example: `  tasker template list
  tasker template list --namespace examples_linear -o json`,
		Args: argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error {
			l, err := s.c.Templates(s.ctx, namespace)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			if len(l.Templates) == 0 {
				fmt.Fprintln(s.out, "no templates registered")
				return nil
			}
			tw := newTable(s.out)
			tableRow(tw, "NAMESPACE", "NAME", "VERSION", "STEPS", "DESCRIPTION")
			for _, t := range l.Templates {
				tableRow(tw, t.Namespace, t.Name, t.Version, fmt.Sprint(t.StepCount), orDash(oneLine(t.Description, 70)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "\n%d template(s) in %d namespace(s)\n", l.TotalCount, len(l.Namespaces))
			return nil
		}),
	}, f, false)
	cmd.Flags().StringVar(&namespace, "namespace", "", "only templates of this namespace")
	return cmd
}

// newTemplateShowCmd builds `tasker template show NS NAME VERSION`: one
// registered template as the server stores it.
func newTemplateShowCmd() *cobra.Command {
	f := &apiFlags{}
	return apiCommand(&cobra.Command{
		Use:   "show NAMESPACE NAME VERSION",
		Short: "Show a template registered with the server: its steps, handlers and retry policies",
		Long: `Show a template registered with the server (REST API): its steps, handlers,
dependencies and retry policies. With --output json it prints the server's
document, whose "configuration" is the whole template as stored.`,
		Example: `  tasker template show examples_linear square_chain 1.0.0
  tasker template show examples_linear square_chain 1.0.0 -o json | jq .configuration.input_schema`,
		Args: argNames("NAMESPACE", "NAME", "VERSION"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			t, err := s.c.Template(s.ctx, args[0], args[1], args[2])
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			var def template.Template
			if err := json.Unmarshal(t.Configuration, &def); err != nil {
				return fmt.Errorf("reading template %s/%s/%s: %w", t.Namespace, t.Name, t.Version, err)
			}
			tw := newTable(s.out)
			detailLine(tw, "Template", t.Namespace+"/"+t.Name+"/"+t.Version)
			detailLine(tw, "Description", oneLine(t.Description, 200))
			identity := string(def.IdentityStrategy)
			if identity == "" {
				identity = "strict"
			}
			detailLine(tw, "Identity", identity)
			schema := "none"
			if len(def.InputSchema) > 0 {
				schema = jsonOneLine(def.InputSchema, 200)
			}
			detailLine(tw, "Input schema", schema)
			if def.Lifecycle != nil {
				lc, _ := json.Marshal(def.Lifecycle)
				detailLine(tw, "Lifecycle", string(lc))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(s.out)
			tw = newTable(s.out)
			tableRow(tw, "STEP", "TYPE", "HANDLER", "DEPENDS ON", "RETRY", "TIMEOUT")
			for _, st := range def.Steps {
				timeout := "-"
				if st.TimeoutSeconds > 0 {
					timeout = fmt.Sprintf("%ds", st.TimeoutSeconds)
				}
				tableRow(tw, st.Name, orDash(string(st.Type)), st.Handler.Callable,
					orDash(strings.Join(st.Dependencies, ",")), retryPolicy(st.Retry), timeout)
			}
			return tw.Flush()
		}),
	}, f, false)
}

// retryPolicy describes a step's retry policy in a few words.
func retryPolicy(r template.Retry) string {
	if !r.Retryable || r.MaxAttempts <= 1 {
		return fmt.Sprintf("%d attempt(s), no retry", max(r.MaxAttempts, 1))
	}
	return fmt.Sprintf("%d attempts, %s from %dms", r.MaxAttempts, r.Backoff, r.BackoffBaseMs)
}
