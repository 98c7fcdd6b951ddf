package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
)

// dlqStatuses are the resolution statuses of a DLQ entry.
var dlqStatuses = []string{"pending", "manually_resolved", "permanently_failed", "cancelled"}

// newDLQCmd builds `tasker dlq`: the dead letter queue of stuck tasks.
func newDLQCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := apiCommand(&cobra.Command{
		Use:   "dlq",
		Short: "Investigate tasks the staleness detector put in the dead letter queue",
		Long: `Investigate tasks the staleness detector put in the dead letter queue (DLQ).

An entry records why and in which state a task got stuck. Fix the task's steps
with 'tasker task reset-step|resolve-step|complete-step', then record the
outcome with 'tasker dlq update'.`,
	}, f, true)
	cmd.AddCommand(newDLQListCmd(f), newDLQGetCmd(f), newDLQUpdateCmd(f), newDLQStatsCmd(f))
	return cmd
}

func checkDLQStatus(cmd *cobra.Command, v string) error {
	if v == "" || slices.Contains(dlqStatuses, v) {
		return nil
	}
	return badUsage(cmd, "--status: %q is not a DLQ status (one of %s)", v, strings.Join(dlqStatuses, ", "))
}

func newDLQListCmd(f *apiFlags) *cobra.Command {
	var (
		status        string
		limit, offset int
	)
	cmd := &cobra.Command{
		Use:   "list [--status STATUS] [--limit N] [--offset N]",
		Short: "List DLQ entries, newest first",
		Example: `  tasker dlq list
  tasker dlq list --status pending --limit 20`,
		Args: argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error {
			if err := checkDLQStatus(s.cmd, status); err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return badUsage(s.cmd, "--limit must be between 1 and 1000, got %d", limit)
			}
			if offset < 0 {
				return badUsage(s.cmd, "--offset must not be negative, got %d", offset)
			}
			entries, err := s.c.DLQ(s.ctx, status, limit, offset)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			if len(entries) == 0 {
				fmt.Fprintln(s.out, "no DLQ entries")
				return nil
			}
			tw := newTable(s.out)
			tableRow(tw, "ENTRY UUID", "TASK UUID", "REASON", "STUCK IN", "STATUS", "SINCE", "RESOLVED BY")
			for i := range entries {
				e := &entries[i]
				tableRow(tw, e.DLQEntryUUID.String(), e.TaskUUID.String(), api.DLQSnakeValue(e.DLQReason), e.OriginalState,
					api.DLQSnakeValue(e.ResolutionStatus), ago(e.DLQTimestamp.Time), orDash(derefString(e.ResolvedBy)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(entries) == limit {
				fmt.Fprintf(s.out, "\nshowing %d entries; more: --offset %d\n", len(entries), offset+limit)
			}
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&status, "status", "", "only entries with this status: "+strings.Join(dlqStatuses, ", "))
	fl.IntVar(&limit, "limit", 50, "entries to show, 1 to 1000")
	fl.IntVar(&offset, "offset", 0, "entries to skip")
	return cmd
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newDLQGetCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "get TASK_UUID",
		Short:   "Show a task's most recent DLQ entry with its snapshot",
		Example: "  tasker dlq get 0195d1d8-4a7c-7e07-8f38-edda4012d079",
		Args:    argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			e, err := s.c.DLQForTask(s.ctx, id)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			return printDLQEntry(s.out, e)
		}),
	}
}

func printDLQEntry(w io.Writer, e *client.DLQEntry) error {
	var snap struct {
		Namespace        string   `json:"namespace"`
		TaskName         string   `json:"task_name"`
		MinutesInState   *float64 `json:"time_in_state_minutes"`
		ThresholdMinutes *float64 `json:"threshold_minutes"`
	}
	_ = json.Unmarshal(e.TaskSnapshot, &snap) // shown raw below when it has another shape
	tw := newTable(w)
	detailLine(tw, "Entry", e.DLQEntryUUID.String())
	detailLine(tw, "Task", e.TaskUUID.String())
	if snap.Namespace != "" {
		detailLine(tw, "Template", snap.Namespace+"/"+snap.TaskName)
	}
	detailLine(tw, "Reason", api.DLQSnakeValue(e.DLQReason))
	stuck := e.OriginalState
	if snap.MinutesInState != nil && snap.ThresholdMinutes != nil {
		stuck += fmt.Sprintf(" for %s (threshold %s)", durationOfMinutes(*snap.MinutesInState), durationOfMinutes(*snap.ThresholdMinutes))
	}
	detailLine(tw, "Stuck in", stuck)
	detailLine(tw, "Entered DLQ", whenAt(e.DLQTimestamp.Time))
	detailLine(tw, "Status", api.DLQSnakeValue(e.ResolutionStatus))
	detailLine(tw, "Resolved", whenAtPtr(e.ResolutionTimestamp.TimePtr()))
	detailLine(tw, "Resolved by", derefString(e.ResolvedBy))
	detailLine(tw, "Notes", derefString(e.ResolutionNotes))
	detailLine(tw, "Metadata", jsonOneLine(e.Metadata, 300))
	detailLine(tw, "Snapshot", jsonOneLine(e.TaskSnapshot, 300))
	return tw.Flush()
}

// durationOfMinutes shows a number of minutes as a duration.
func durationOfMinutes(m float64) string {
	return shortDuration(time.Duration(m * float64(time.Minute)))
}

func newDLQUpdateCmd(f *apiFlags) *cobra.Command {
	var status, notes, resolvedBy, metadata string
	cmd := &cobra.Command{
		Use:   "update ENTRY_UUID [--status STATUS] [--notes TEXT] [--resolved-by NAME] [--metadata JSON]",
		Short: "Record the outcome of an investigation",
		Long: `Update a DLQ entry. Flags left out stay as they are; --metadata (a JSON object)
is merged into the entry's metadata. Moving an entry out of pending stamps its
resolution time.`,
		Example: `  tasker dlq update 0195d1e0-0c1f-7a4e-9b5e-3f0c2d1a9e77 --status manually_resolved \
      --notes "reset the payment step" --resolved-by alice --metadata '{"ticket": "OPS-9"}'`,
		Args: argNames("ENTRY_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "ENTRY_UUID", args[0])
			if err != nil {
				return err
			}
			if err := checkDLQStatus(s.cmd, status); err != nil {
				return err
			}
			var u client.DLQUpdate
			fl := s.cmd.Flags()
			if fl.Changed("status") {
				u.ResolutionStatus = &status
			}
			if fl.Changed("notes") {
				u.ResolutionNotes = &notes
			}
			if fl.Changed("resolved-by") {
				u.ResolvedBy = &resolvedBy
			}
			if fl.Changed("metadata") {
				if u.Metadata, err = jsonFlag(s.cmd, "metadata", metadata, true); err != nil {
					return err
				}
			}
			if u.ResolutionStatus == nil && u.ResolutionNotes == nil && u.ResolvedBy == nil && u.Metadata == nil {
				return badUsage(s.cmd, "nothing to update: give --status, --notes, --resolved-by or --metadata")
			}
			r, err := s.c.UpdateDLQEntry(s.ctx, id, u)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			fmt.Fprintf(s.out, "DLQ entry %s: %s\n", r.DLQEntryUUID, r.Message)
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&status, "status", "", "new status: "+strings.Join(dlqStatuses, ", "))
	fl.StringVar(&notes, "notes", "", "what was found and done")
	fl.StringVar(&resolvedBy, "resolved-by", "", "who resolved it")
	fl.StringVar(&metadata, "metadata", "", "a JSON object merged into the entry's metadata (JSON, @FILE or @-)")
	return cmd
}

func newDLQStatsCmd(f *apiFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "stats",
		Short:   "Count DLQ entries per reason and status",
		Example: "  tasker dlq stats",
		Args:    argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error {
			stats, err := s.c.DLQStats(s.ctx)
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON()
			}
			if len(stats) == 0 {
				fmt.Fprintln(s.out, "the DLQ is empty")
				return nil
			}
			tw := newTable(s.out)
			tableRow(tw, "REASON", "TOTAL", "PENDING", "RESOLVED", "FAILED", "CANCELLED", "OLDEST", "NEWEST", "AVG RESOLUTION")
			for _, st := range stats {
				avg := "-"
				if st.AvgResolutionMinutes != nil {
					avg = fmt.Sprintf("%.1f min", *st.AvgResolutionMinutes)
				}
				oldest, newest := "-", "-"
				if st.Oldest != nil {
					oldest = ago(st.Oldest.Time)
				}
				if st.Newest != nil {
					newest = ago(st.Newest.Time)
				}
				tableRow(tw, api.DLQSnakeValue(st.Reason), fmt.Sprint(st.Total), fmt.Sprint(st.Pending), fmt.Sprint(st.ManuallyResolved),
					fmt.Sprint(st.PermanentFailures), fmt.Sprint(st.Cancelled), oldest, newest, avg)
			}
			return tw.Flush()
		}),
	}
}
