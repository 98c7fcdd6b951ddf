package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tasker-go/tasker/client"
)

// newTable returns a tabwriter for a table with two-space gaps. Rows are
// tab-separated; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// tableRow writes one tab-separated table row.
func tableRow(w io.Writer, cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")) }

// detailLine writes one "Label  value" line of a detail view; empty values are
// left out.
func detailLine(w io.Writer, label, value string) {
	if value != "" {
		fmt.Fprintf(w, "%s\t%s\n", label, value)
	}
}

// whenAt shows a time as RFC 3339 in UTC with how long ago it was.
func whenAt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339) + " (" + ago(t) + ")"
}

// whenAtPtr is whenAt for an optional time ("" when nil).
func whenAtPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return whenAt(*t)
}

// ago says how long ago (or how soon) t is: "45s ago", "in 3m".
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// shortDuration shows a duration compactly: 312ms, 4.2s, 3m05s.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// orDash stands in for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine cuts s to at most n characters, on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// jsonOneLine shows a JSON value on one line, at most n characters.
func jsonOneLine(raw json.RawMessage, n int) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return oneLine(string(raw), n)
	}
	return oneLine(b.String(), n)
}

// taskKey is namespace/name/version.
func taskKey(t *client.Task) string { return t.Namespace + "/" + t.Name + "/" + t.Version }

// stepSummary counts a task's steps by state: "4 steps: 3 complete, 1 in progress".
func stepSummary(t *client.Task) string {
	parts := []string{}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(t.CompletedSteps, "complete")
	add(t.FailedSteps, "in error")
	add(t.WaitingForRetrySteps, "waiting for retry")
	add(t.InProgressSteps, "in progress")
	add(t.EnqueuedSteps, "enqueued")
	add(t.EnqueuedForOrchestrationSteps+t.EnqueuedAsErrorForOrchestrationSteps, "reporting")
	add(t.PendingSteps, "pending")
	add(t.CancelledSteps, "cancelled")
	s := fmt.Sprintf("%d steps", t.TotalSteps)
	if t.TotalSteps == 1 {
		s = "1 step"
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

// printTask prints a task's detail view and, when it has them, its steps.
func printTask(w io.Writer, t *client.Task) error {
	tw := newTable(w)
	detailLine(tw, "Task", t.TaskUUID.String())
	detailLine(tw, "Template", taskKey(t))
	status := t.Status
	if t.ExecutionStatus != "" {
		status += fmt.Sprintf("  (execution %s, health %s, next: %s)", t.ExecutionStatus, t.HealthStatus, t.RecommendedAction)
	}
	detailLine(tw, "Status", status)
	detailLine(tw, "Steps", fmt.Sprintf("%s (%.0f%% done)", stepSummary(t), t.CompletionPercentage))
	detailLine(tw, "Created", whenAt(t.CreatedAt))
	detailLine(tw, "State since", whenAt(t.StateChangedAt))
	detailLine(tw, "Completed", whenAtPtr(t.CompletedAt))
	detailLine(tw, "Initiator", t.Initiator)
	detailLine(tw, "Source", t.SourceSystem)
	detailLine(tw, "Reason", t.Reason)
	detailLine(tw, "Tags", strings.Join(t.Tags, ", "))
	detailLine(tw, "Priority", fmt.Sprint(t.Priority))
	detailLine(tw, "Correlation", t.CorrelationID.String())
	detailLine(tw, "Context", jsonOneLine(t.Context, 200))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.Steps) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return printSteps(w, t.Steps)
}

// printSteps prints a table of steps; the NOTE column (errors, retry
// times, readiness) only when a step has one.
func printSteps(w io.Writer, steps []client.Step) error {
	notes := make([]string, len(steps))
	anyNote := false
	for i := range steps {
		notes[i] = stepNote(&steps[i])
		anyNote = anyNote || notes[i] != ""
	}
	tw := newTable(w)
	header := []string{"STEP", "STATE", "ATTEMPTS", "DEPENDS ON", "STEP UUID"}
	if anyNote {
		header = append(header, "NOTE")
	}
	tableRow(tw, header...)
	for i := range steps {
		s := &steps[i]
		cells := []string{s.Name, s.CurrentState, fmt.Sprintf("%d/%d", s.Attempts, s.MaxAttempts),
			orDash(strings.Join(s.Dependencies, ",")), s.StepUUID.String()}
		if anyNote {
			cells = append(cells, notes[i])
		}
		tableRow(tw, cells...)
	}
	return tw.Flush()
}

// stepNote is the one thing worth knowing about a step beyond its state.
func stepNote(s *client.Step) string {
	msg := oneLine(s.FailureMessage(), 80)
	switch {
	case s.CurrentState == "error" && msg != "":
		return msg
	case s.CurrentState == "waiting_for_retry" && s.NextRetryAt != nil:
		note := "retry " + ago(s.NextRetryAt.Time)
		if msg != "" {
			note += ": " + msg
		}
		return note
	case s.ReadyForExecution:
		return "ready"
	case s.CurrentState == "pending" && s.TotalParents > s.CompletedParents:
		return fmt.Sprintf("waiting for %d of %d dependencies", s.TotalParents-s.CompletedParents, s.TotalParents)
	}
	return ""
}

// printStep prints one step's detail view.
func printStep(w io.Writer, s *client.Step) error {
	tw := newTable(w)
	detailLine(tw, "Step", s.StepUUID.String())
	detailLine(tw, "Name", s.Name)
	detailLine(tw, "Task", s.TaskUUID.String())
	detailLine(tw, "Type", s.StepType)
	detailLine(tw, "State", s.CurrentState)
	retry := "not retryable"
	if s.Retryable {
		retry = "retryable"
	}
	detailLine(tw, "Attempts", fmt.Sprintf("%d of %d (%s)", s.Attempts, s.MaxAttempts, retry))
	deps := "none"
	if s.TotalParents > 0 {
		deps = fmt.Sprintf("%s (%d of %d done)", strings.Join(s.Dependencies, ", "), s.CompletedParents, s.TotalParents)
	}
	detailLine(tw, "Depends on", deps)
	detailLine(tw, "Ready", fmt.Sprint(s.ReadyForExecution))
	detailLine(tw, "Created", whenAt(s.CreatedAt))
	detailLine(tw, "Last attempt", whenAtPtr(s.LastAttemptedAt.TimePtr()))
	detailLine(tw, "Last failure", whenAtPtr(s.LastFailureAt.TimePtr()))
	detailLine(tw, "Next retry", whenAtPtr(s.NextRetryAt.TimePtr()))
	detailLine(tw, "Completed", whenAtPtr(s.CompletedAt))
	if msg := s.FailureMessage(); msg != "" {
		label := "Error"
		if s.CurrentState != "error" {
			label = "Last error" // from an earlier attempt
		}
		detailLine(tw, label, msg)
	} else if r := s.Result(); len(r) > 0 {
		detailLine(tw, "Result", jsonOneLine(r, 400))
	}
	return tw.Flush()
}
