package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/template"
)

// taskAndStep reads TASK_UUID STEP arguments; STEP is a step UUID or the
// name of one of the task's steps (looked up through the API).
func (s *apiSession) taskAndStep(args []string) (task, step uuid.UUID, err error) {
	task, err = parseUUIDArg(s.cmd, "TASK_UUID", args[0])
	if err != nil {
		return task, step, err
	}
	if id, perr := uuid.Parse(args[1]); perr == nil {
		return task, id, nil
	}
	steps, err := s.c.Steps(s.ctx, task)
	if err != nil {
		return task, step, err
	}
	names := make([]string, 0, len(steps))
	for _, st := range steps {
		if st.Name == args[1] {
			return task, st.StepUUID, nil
		}
		names = append(names, st.Name)
	}
	return task, step, exitCodeError{code: exitAPIFailure, msg: fmt.Sprintf(
		"error: task %s has no step named %q (its steps: %s)", task, args[1], strings.Join(names, ", "))}
}

func newTaskStepsCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "steps TASK_UUID",
		Short:   "List a task's steps with their states, attempts and errors",
		Example: "  tasker task steps 0195d1d8-4a7c-7e07-8f38-edda4012d079",
		Args:    argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			steps, err := s.c.Steps(s.ctx, id)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			return printSteps(s.out, steps)
		}),
	}
}

func newTaskStepCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "step TASK_UUID STEP",
		Short: "Show one step: state, attempts, dependencies, result or error",
		Example: `  tasker task step 0195d1d8-4a7c-7e07-8f38-edda4012d079 linear_step_2
  tasker task step 0195d1d8-4a7c-7e07-8f38-edda4012d079 0195d1d8-4a7c-7e0b-a540-f2f6281fe57d -o json`,
		Args: argNames("TASK_UUID", "STEP"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			task, step, err := s.taskAndStep(args)
			if err != nil {
				return err
			}
			st, err := s.c.Step(s.ctx, task, step)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			return printStep(s.out, st)
		}),
	}
}

// stepActionFlags are the flags of the step fixes.
type stepActionFlags struct {
	reason, by       string
	result, metadata string
}

func (af *stepActionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&af.reason, "reason", "", "why you fix the step by hand (required; recorded in its history)")
	cmd.Flags().StringVar(&af.by, "by", "", "who fixes the step (required; recorded in its history)")
}

func (af *stepActionFlags) check(cmd *cobra.Command) error {
	if err := requiredFlag(cmd, "reason", af.reason, "the server records why a step was fixed by hand"); err != nil {
		return err
	}
	return requiredFlag(cmd, "by", af.by, "the server records who fixed the step")
}

// newStepActionCmd builds one of the step fixes; action builds its request
// from the flags.
func newStepActionCmd(f *apiFlags, use, short, long, example, done string,
	action func(cmd *cobra.Command, af *stepActionFlags) (client.StepAction, error), extra func(*cobra.Command, *stepActionFlags)) *cobra.Command {
	var af stepActionFlags
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: argNames("TASK_UUID", "STEP"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			if err := af.check(s.cmd); err != nil {
				return err
			}
			a, err := action(s.cmd, &af)
			if err != nil {
				return err
			}
			task, step, err := s.taskAndStep(args)
			if err != nil {
				return err
			}
			st, err := s.c.UpdateStep(s.ctx, task, step, a)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			fmt.Fprintf(s.out, "step %s (%s) %s: now %s\n", st.Name, st.StepUUID, done, st.CurrentState)
			t, err := s.c.GetTask(s.ctx, task)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "task %s is %s (%s)\n", t.TaskUUID, t.Status, stepSummary(t))
			return nil
		}),
	}
	af.register(cmd)
	if extra != nil {
		extra(cmd, &af)
	}
	return cmd
}

func newTaskResetStepCmd(f *apiFlags) *cobra.Command {
	return newStepActionCmd(f, "reset-step TASK_UUID STEP --reason TEXT --by NAME",
		"Run a step in error again, with its attempts cleared",
		`Put a step that is in error back to pending with its attempts cleared; the
task is re-evaluated at once and the step runs again, even when the task had
ended in error.`,
		`  tasker task reset-step 0195d1d8-4a7c-7e07-8f38-edda4012d079 charge_card --reason "the payment API is back" --by alice`,
		"was reset for retry",
		func(_ *cobra.Command, af *stepActionFlags) (client.StepAction, error) {
			return client.ResetForRetry(af.reason, af.by), nil
		}, nil)
}

func newTaskResolveStepCmd(f *apiFlags) *cobra.Command {
	return newStepActionCmd(f, "resolve-step TASK_UUID STEP --reason TEXT --by NAME",
		"Count a step as done without a result, so that its dependents run",
		`Mark a step resolved by hand, without a result. Its dependents may run; a
task whose last open step is resolved completes.`,
		`  tasker task resolve-step 0195d1d8-4a7c-7e07-8f38-edda4012d079 refund_payment --reason "refunded by hand" --by alice`,
		"was resolved by hand",
		func(_ *cobra.Command, af *stepActionFlags) (client.StepAction, error) {
			return client.ResolveManually(af.reason, af.by), nil
		}, nil)
}

func newTaskCompleteStepCmd(f *apiFlags) *cobra.Command {
	return newStepActionCmd(f, "complete-step TASK_UUID STEP --result JSON|@FILE [--metadata JSON] --reason TEXT --by NAME",
		"Complete a step with a result you supply; its dependents receive it",
		`Complete a step by hand with the result its handler would have returned
(--result: any JSON value inline, @FILE or @-). --metadata, a JSON object, is
stored with the result. The step's dependents receive the result as if the
handler had returned it.`,
		`  tasker task complete-step 0195d1d8-4a7c-7e07-8f38-edda4012d079 linear_step_2 --result '{"value": 1296}' \
      --metadata '{"ticket": "OPS-7"}' --reason "computed offline" --by alice`,
		"was completed by hand",
		func(cmd *cobra.Command, af *stepActionFlags) (client.StepAction, error) {
			if err := requiredFlag(cmd, "result", af.result, "the step's result, as JSON"); err != nil {
				return client.StepAction{}, err
			}
			result, err := jsonFlag(cmd, "result", af.result, false)
			if err != nil {
				return client.StepAction{}, err
			}
			var meta json.RawMessage
			if af.metadata != "" {
				if meta, err = jsonFlag(cmd, "metadata", af.metadata, true); err != nil {
					return client.StepAction{}, err
				}
			}
			return client.CompleteManually(result, meta, af.reason, af.by), nil
		},
		func(cmd *cobra.Command, af *stepActionFlags) {
			cmd.Flags().StringVar(&af.result, "result", "", "the step's result: JSON, @FILE or @- (required)")
			cmd.Flags().StringVar(&af.metadata, "metadata", "", "a JSON object stored with the result")
		})
}

func newTaskAuditCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "audit TASK_UUID STEP",
		Aliases: []string{"step-audit"},
		Short:   "List every result workers reported for a step, oldest first",
		Example: "  tasker task audit 0195d1d8-4a7c-7e07-8f38-edda4012d079 linear_step_1",
		Args:    argNames("TASK_UUID", "STEP"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			task, step, err := s.taskAndStep(args)
			if err != nil {
				return err
			}
			entries, err := s.c.StepAudit(s.ctx, task, step)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			if len(entries) == 0 {
				fmt.Fprintln(s.out, "no results reported for this step yet")
				return nil
			}
			tw := newTable(s.out)
			tableRow(tw, "ATTEMPT", "RECORDED", "WORKER", "SUCCESS", "TOOK", "TRANSITION", "RESULT")
			for i := range entries {
				a := &entries[i]
				took := "-"
				if a.ExecutionTimeMs != nil {
					took = fmt.Sprintf("%dms", *a.ExecutionTimeMs)
				}
				res := a.FailureMessage()
				if res == "" {
					res = jsonOneLine(handlerResult(a.Result), 80)
				}
				tableRow(tw, fmt.Sprint(a.Attempt), whenAt(a.RecordedAt), orDash(a.WorkerID), fmt.Sprint(a.Success),
					took, a.FromState+" → "+a.ToState, orDash(res))
			}
			return tw.Flush()
		}),
	}
}

// handlerResult returns the "result" field of a stored step execution
// result (what the handler returned).
func handlerResult(raw json.RawMessage) json.RawMessage {
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return raw
	}
	return r.Result
}

func newTaskVisualizeCmd(f *apiFlags) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "visualize TASK_UUID [--markdown]",
		Short: "Draw a task's step graph as a Mermaid diagram, each step coloured by its state",
		Long: `Draw the task's template DAG as a Mermaid flowchart. Each step shows its
current state and is coloured by it; steps the task has not created (yet) are
drawn as not created. Paste the output into https://mermaid.live, or use
--markdown to get a fenced block for a Markdown file or a GitHub comment.

With --output json the command prints {task_uuid, template, status, states,
mermaid}.`,
		Example: `  tasker task visualize 0195d1d8-4a7c-7e07-8f38-edda4012d079
  tasker task visualize 0195d1d8-4a7c-7e07-8f38-edda4012d079 --markdown >> incident.md`,
		Args: argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			t, err := s.c.GetTask(s.ctx, id)
			if err != nil {
				return err
			}
			tpl, err := s.c.Template(s.ctx, t.Namespace, t.Name, t.Version)
			if err != nil {
				return err
			}
			var def template.Template
			if err := json.Unmarshal(tpl.Configuration, &def); err != nil {
				return fmt.Errorf("reading template %s: %w", taskKey(t), err)
			}
			states := make(map[string]string, len(t.Steps))
			for _, st := range t.Steps {
				states[st.Name] = st.CurrentState
			}
			diagram := def.Mermaid(states)
			if s.json {
				doc, err := json.Marshal(map[string]any{"task_uuid": t.TaskUUID, "template": taskKey(t),
					"status": t.Status, "states": states, "mermaid": diagram})
				if err != nil {
					return err
				}
				return writeIndentedJSON(s.out, doc)
			}
			if markdown {
				fmt.Fprintf(s.out, "```mermaid\n%s```\n", diagram)
				return nil
			}
			fmt.Fprint(s.out, diagram)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "wrap the diagram in a ```mermaid fenced block")
	return cmd
}
