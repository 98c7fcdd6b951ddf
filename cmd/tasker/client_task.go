package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/state"
)

// newTaskCmd builds `tasker task`: create, inspect, cancel and fix tasks
// through the orchestration REST API.
func newTaskCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := apiCommand(&cobra.Command{
		Use:   "task",
		Short: "Create, follow, inspect, cancel and fix tasks through the REST API",
		Long: `Create, follow, inspect, cancel and fix tasks through the orchestration REST API.

Step arguments (STEP) take a step UUID or a step name of the task.

Exit status: 0 on success; 1 when the server refuses the request or cannot be
reached; 2 for a bad command line (nothing is sent); 3 when 'task create --wait'
sees the task end other than complete.`,
	}, f, true)
	cmd.AddCommand(
		newTaskCreateCmd(f), newTaskGetCmd(f), newTaskListCmd(f), newTaskCancelCmd(f),
		newTaskStepsCmd(f), newTaskStepCmd(f),
		newTaskResetStepCmd(f), newTaskResolveStepCmd(f), newTaskCompleteStepCmd(f),
		newTaskAuditCmd(f), newTaskVisualizeCmd(f), newTaskEventsCmd(f),
	)
	return cmd
}

type taskCreateFlags struct {
	namespace, name, version string
	context                  string
	initiator, sourceSystem  string
	reason, idempotencyKey   string
	tags                     []string
	priority                 int
	wait                     bool
	waitTimeout              time.Duration
}

func newTaskCreateCmd(f *apiFlags) *cobra.Command {
	var cf taskCreateFlags
	cmd := &cobra.Command{
		Use:   "create --namespace NS --name NAME [--context JSON|@FILE] [--wait]",
		Short: "Create a task from a registered template, optionally following it to its end",
		Long: `Create a task from a registered template.

--context is the task's input: a JSON object inline, @FILE, or @- for standard
input. It is checked against the template's input_schema by the server.

With --wait the command follows the task's event stream, printing one line per
step transition, until the task ends. It exits 0 only when the task ends
complete; otherwise it prints the final state and the failed steps' errors and
exits 3.`,
		Example: `  tasker task create --namespace examples_linear --name square_chain --context '{"even_number": 6}' --wait
  tasker task create --namespace billing --name invoice --version 2.0.0 --context @input.json \
      --initiator billing-service --tag nightly --idempotency-key run-2025-06-01`,
		Args: argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error { return createTask(s, &cf) }),
	}
	fl := cmd.Flags()
	fl.StringVar(&cf.namespace, "namespace", "", "template namespace (required)")
	fl.StringVar(&cf.name, "name", "", "template name (required)")
	fl.StringVar(&cf.version, "version", "", "template version (default: the latest registered)")
	fl.StringVar(&cf.context, "context", "", "task input: a JSON object, @FILE or @- (default {})")
	fl.StringVar(&cf.initiator, "initiator", "", "who or what asks for the task")
	fl.StringVar(&cf.sourceSystem, "source-system", "", "the system the request comes from")
	fl.StringVar(&cf.reason, "reason", "", "why the task is created")
	fl.StringArrayVar(&cf.tags, "tag", nil, "a tag for the task (repeatable)")
	fl.IntVar(&cf.priority, "priority", 0, "priority, -100 to 100 (default 0)")
	fl.StringVar(&cf.idempotencyKey, "idempotency-key", "", "the task's identity: a second create with the same key is refused (409)")
	fl.BoolVar(&cf.wait, "wait", false, "follow the task until it ends; exit 0 only if it completes")
	fl.DurationVar(&cf.waitTimeout, "wait-timeout", 0, "with --wait, give up after this long (default: wait until the task ends)")
	return cmd
}

func createTask(s *apiSession, cf *taskCreateFlags) error {
	cmd := s.cmd
	if err := requiredFlag(cmd, "namespace", cf.namespace, "the template's namespace"); err != nil {
		return err
	}
	if err := requiredFlag(cmd, "name", cf.name, "the template's name"); err != nil {
		return err
	}
	if cf.waitTimeout < 0 {
		return badUsage(cmd, "--wait-timeout must not be negative, got %s", cf.waitTimeout)
	}
	req := client.TaskRequest{
		Namespace: cf.namespace, Name: cf.name, Version: cf.version, Initiator: cf.initiator,
		SourceSystem: cf.sourceSystem, Reason: cf.reason, Tags: cf.tags, IdempotencyKey: cf.idempotencyKey,
	}
	if cf.context != "" {
		ctxJSON, err := jsonFlag(cmd, "context", cf.context, true)
		if err != nil {
			return err
		}
		req.Context = ctxJSON
	}
	if cmd.Flags().Changed("priority") {
		if cf.priority < -100 || cf.priority > 100 {
			return badUsage(cmd, "--priority must be between -100 and 100, got %d", cf.priority)
		}
		req.Priority = &cf.priority
	}
	task, err := s.c.CreateTask(s.ctx, req)
	if err != nil {
		return err
	}
	if !cf.wait {
		if s.json {
			return s.printJSON()
		}
		fmt.Fprintf(s.out, "created task %s\n\n", task.TaskUUID)
		return printTask(s.out, task)
	}
	return waitForTask(s, task, cf.waitTimeout)
}

// waitForTask follows a new task to its end, printing one line per step
// transition (to standard error with --output json, so that standard
// output holds only the final task).
func waitForTask(s *apiSession, task *client.Task, limit time.Duration) error {
	progress := s.out
	if s.json {
		progress = s.cmd.ErrOrStderr()
	}
	fmt.Fprintf(progress, "created task %s (%s); waiting for it to finish\n", task.TaskUUID, taskKey(task))
	ctx := s.ctx
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	final, err := s.c.Wait(ctx, task.TaskUUID, func(e client.Event) {
		if e.Kind != "step" {
			return
		}
		from := "-"
		if e.FromState != nil {
			from = *e.FromState
		}
		fmt.Fprintf(progress, "  %8s  %-32s %s → %s\n", "+"+shortDuration(e.At.Sub(task.CreatedAt)), e.StepName, from, e.ToState)
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
			status := "unfinished"
			if t, gerr := s.c.GetTask(s.ctx, task.TaskUUID); gerr == nil {
				status = t.Status
			}
			return exitCodeError{code: exitTaskNotComplete, msg: fmt.Sprintf(
				"error: task %s is still %s after %s; gave up waiting (see `tasker task get %s`)",
				task.TaskUUID, status, limit, task.TaskUUID)}
		}
		return err
	}
	took := time.Since(task.CreatedAt)
	if final.CompletedAt != nil {
		took = final.CompletedAt.Sub(final.CreatedAt)
	}
	if s.json {
		if err := s.printJSON(); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(s.out, "task %s %s after %s: %s\n", final.TaskUUID, final.Status, shortDuration(took), stepSummary(final))
	}
	if final.Status == "complete" {
		return nil
	}
	printFailedSteps(progress, final)
	return exitCodeError{code: exitTaskNotComplete,
		msg: fmt.Sprintf("error: task %s ended %s, not complete", final.TaskUUID, final.Status)}
}

// printFailedSteps lists the steps of a task that did not succeed, with
// their handlers' error messages.
func printFailedSteps(w io.Writer, t *client.Task) {
	tw := newTable(w)
	for i := range t.Steps {
		st := &t.Steps[i]
		switch st.CurrentState {
		case "complete", "resolved_manually", "pending":
			continue
		}
		tableRow(tw, "  "+st.Name, st.CurrentState, fmt.Sprintf("attempt %d/%d", st.Attempts, st.MaxAttempts),
			orDash(st.FailureMessage()))
	}
	_ = tw.Flush()
}

func newTaskGetCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "get TASK_UUID",
		Short:   "Show a task: status, execution context and steps",
		Example: "  tasker task get 0195d1d8-4a7c-7e07-8f38-edda4012d079\n  tasker task get 0195d1d8-4a7c-7e07-8f38-edda4012d079 -o json | jq .status",
		Args:    argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			t, err := s.c.GetTask(s.ctx, id)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			return printTask(s.out, t)
		}),
	}
}

func newTaskListCmd(f *apiFlags) *cobra.Command {
	var (
		o        client.ListOptions
		statuses []string
	)
	cmd := &cobra.Command{
		Use:   "list [--namespace NS] [--name NAME] [--status STATE]... [--limit N] [--page N]",
		Short: "List tasks, newest first",
		Example: `  tasker task list
  tasker task list --namespace examples_linear --status error --status cancelled
  tasker task list --status error,blocked_by_failures --limit 100 --page 2`,
		Args: argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error {
			for _, v := range statuses {
				for st := range strings.SplitSeq(v, ",") {
					st = strings.TrimSpace(st)
					if st == "" {
						continue
					}
					if !state.TaskState(st).Valid() {
						return badUsage(s.cmd, "--status: %q is not a task state (one of %s)", st, taskStateNames())
					}
					o.Status = append(o.Status, st)
				}
			}
			if o.PerPage < 1 || o.PerPage > 100 {
				return badUsage(s.cmd, "--limit must be between 1 and 100, got %d", o.PerPage)
			}
			if o.Page < 1 {
				return badUsage(s.cmd, "--page must be 1 or more, got %d", o.Page)
			}
			list, err := s.c.ListTasks(s.ctx, o)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			return printTaskList(s.out, list)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Namespace, "namespace", "", "only tasks of this namespace")
	fl.StringVar(&o.Name, "name", "", "only tasks of this template name")
	fl.StringArrayVar(&statuses, "status", nil, "only tasks in this state (repeatable, or comma-separated)")
	fl.IntVar(&o.PerPage, "limit", 25, "tasks per page, 1 to 100")
	fl.IntVar(&o.Page, "page", 1, "page number, from 1")
	return cmd
}

func taskStateNames() string {
	names := make([]string, len(state.TaskStates))
	for i, s := range state.TaskStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func printTaskList(w io.Writer, list *client.TaskList) error {
	p := list.Pagination
	if len(list.Tasks) == 0 {
		fmt.Fprintf(w, "no tasks (page %d; %d in all)\n", p.Page, p.TotalCount)
		return nil
	}
	tw := newTable(w)
	tableRow(tw, "TASK UUID", "TEMPLATE", "STATUS", "STEPS", "CREATED", "INITIATOR")
	for i := range list.Tasks {
		t := &list.Tasks[i]
		steps := fmt.Sprintf("%d/%d", t.CompletedSteps, t.TotalSteps)
		if t.FailedSteps > 0 {
			steps += fmt.Sprintf(" (%d in error)", t.FailedSteps)
		}
		tableRow(tw, t.TaskUUID.String(), taskKey(t), t.Status, steps, ago(t.CreatedAt), orDash(t.Initiator))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\npage %d of %d (%d tasks)", p.Page, max(p.TotalPages, 1), p.TotalCount)
	if p.HasNext {
		fmt.Fprintf(w, "; next page: --page %d", p.Page+1)
	}
	fmt.Fprintln(w)
	return nil
}

func newTaskCancelCmd(f *apiFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "cancel TASK_UUID [--reason TEXT]",
		Short: "Cancel a task and every step that has not finished",
		Long: `Cancel a task and every step that has not finished, in one transaction. A
worker already running a cancelled step is not interrupted; its result is
dropped. A task that has already ended cannot be cancelled (HTTP 400).`,
		Example: `  tasker task cancel 0195d1d8-4a7c-7e07-8f38-edda4012d079 --reason "customer withdrew the order"`,
		Args:    argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			t, err := s.c.CancelTask(s.ctx, id, reason)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			fmt.Fprintf(s.out, "task %s is %s (%s)\n", t.TaskUUID, t.Status, stepSummary(t))
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the task is cancelled (recorded in its history)")
	return cmd
}
