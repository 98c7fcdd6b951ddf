package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// targetCheck is one of the design targets (docs/benchmarks.md) against what
// a run measured.
type targetCheck struct {
	Measure  string  `json:"measure"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	// Verdict is "met", "not met", or "floor met" (throughput above the
	// seed's floor, below the target).
	Verdict string `json:"verdict"`
}

// checkTargets compares a run with the design targets it measured; targets
// the run has no figure for are left out.
func checkTargets(r *benchReport) []targetCheck {
	var out []targetCheck
	upTo := func(measure, target string, got, limit float64, unit string) {
		v := "met"
		if got > limit {
			v = "not met"
		}
		out = append(out, targetCheck{Measure: measure, Target: target, Measured: got, Unit: unit, Verdict: v})
	}
	for _, t := range []struct {
		scenario string
		p50      float64
	}{{"linear4", 25}, {"diamond4", 25}, {"dag7", 40}, {"tree8", 40}} {
		l := r.Latency[t.scenario]
		if l == nil || l.ClientMS == nil || l.ClientMS.N == 0 {
			continue
		}
		upTo(t.scenario+" p50", fmt.Sprintf("<= %.0f ms", t.p50), l.ClientMS.P50, t.p50, "ms")
		if t.scenario == "linear4" {
			upTo("linear4 p99", "<= 60 ms", l.ClientMS.P99, 60, "ms")
		}
	}
	if r.Creation != nil && r.Creation.N > 0 {
		upTo("task creation p50", "<= 5 ms", r.Creation.P50, 5, "ms")
	}
	if t := r.Throughput; t != nil {
		v := "met"
		switch {
		case t.StepsPerSec < 1000:
			v = "not met"
		case t.StepsPerSec < 5000:
			v = "floor met"
		}
		out = append(out, targetCheck{Measure: "throughput", Target: ">= 5000 steps/s (floor 1000)",
			Measured: t.StepsPerSec, Unit: "steps/s", Verdict: v})
		if t.DBXactsPerStep != nil {
			// pg_stat_database counts every transaction, reads included:
			// compare with the whole budget of 4 writes + 2 reads.
			upTo("transactions per step", "<= 6 (4 write + 2 read)", *t.DBXactsPerStep, 6, "")
		}
	}
	return out
}

func printTargets(out io.Writer, checks []targetCheck) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintln(out, "\nagainst the design targets (docs/benchmarks.md)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, c := range checks {
		fmt.Fprintf(tw, "  %s\t%s\t%.2f %s\t%s\n", c.Measure, c.Target, c.Measured, c.Unit, c.Verdict)
	}
	_ = tw.Flush()
}
