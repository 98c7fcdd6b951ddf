package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/workers/native"
)

// demoOutcome is one demo task's result.
type demoOutcome struct {
	demo     native.Demo
	status   string
	steps    int
	duration time.Duration
	result   string
	err      error
}

// runDemo submits one task per example workflow through the REST API, prints
// each step transition as it commits, then a summary table. It fails unless
// every task ended as its example expects.
func runDemo(ctx context.Context, out io.Writer, apiURL string, withFailures bool) error {
	c, err := client.New(apiURL)
	if err != nil {
		return err
	}
	var demos []native.Demo
	for _, d := range native.Demos() {
		if d.Expect.Complete || withFailures {
			demos = append(demos, d)
		}
	}
	fmt.Fprintf(out, "\nRunning %d example workflows...\n", len(demos))
	var mu sync.Mutex
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	results := make([]demoOutcome, len(demos))
	var wg sync.WaitGroup
	for i, d := range demos {
		wg.Go(func() {
			results[i] = runOneDemo(ctx, c, d, printf)
		})
	}
	wg.Wait()

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW\tSTEPS\tFINAL STATE\tDURATION\tRESULT\tOK")
	failed := 0
	for _, r := range results {
		ok := "yes"
		if r.err != nil {
			ok, failed = "NO: "+r.err.Error(), failed+1
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.demo.Key, r.steps, r.status,
			r.duration.Round(time.Millisecond), r.result, ok)
	}
	_ = tw.Flush()
	if failed > 0 {
		return exitCodeError{code: 1, msg: fmt.Sprintf("%d of %d example workflows did not end as expected", failed, len(results))}
	}
	fmt.Fprintf(out, "\nAll %d example workflows ended as expected.\n", len(results))
	fmt.Fprintln(out, "(Durations include start-up: the tasks ran all at once on a cold system. "+
		"`tasker bench --embedded` measures steady-state latency and throughput.)")
	return nil
}

func runOneDemo(ctx context.Context, c *client.Client, d native.Demo, printf func(string, ...any)) demoOutcome {
	o := demoOutcome{demo: d, status: "-"}
	ns, name, version := splitKey(d.Key)
	start := time.Now()
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: ns, Name: name, Version: version, Context: d.Input,
		Initiator: "tasker dev --demo", Reason: "demo"})
	if err != nil {
		o.err = err
		return o
	}
	label := ns + "/" + name
	final, err := c.Wait(ctx, task.TaskUUID, func(e client.Event) {
		switch e.Kind {
		case "step":
			printf("  %-38s %-28s %s\n", label, e.StepName, e.ToState)
		case "end":
			printf("  %-38s %-28s task %s\n", label, "", e.Status)
		}
	})
	o.duration = time.Since(start)
	if err != nil {
		o.err = err
		return o
	}
	o.status, o.steps = final.Status, len(final.Steps)
	o.err = checkDemo(d, final)
	for _, s := range final.Steps {
		if s.Name == d.Expect.Step {
			o.result = shorten(string(s.Result()), 60)
		}
	}
	return o
}

// checkDemo compares a finished task with its example's expectation.
func checkDemo(d native.Demo, t *client.Task) error {
	e := d.Expect
	if e.Complete != (t.Status == "complete") {
		return fmt.Errorf("ended %s", t.Status)
	}
	if e.Steps != 0 && len(t.Steps) != e.Steps {
		return fmt.Errorf("%d steps, want %d", len(t.Steps), e.Steps)
	}
	var failed []string
	for _, s := range t.Steps {
		if s.CurrentState == "error" {
			failed = append(failed, s.Name)
		}
		if s.Name != e.Step {
			continue
		}
		if e.Attempts > 0 && s.Attempts != e.Attempts {
			return fmt.Errorf("step %s took %d attempts, want %d", s.Name, s.Attempts, e.Attempts)
		}
		if e.Complete {
			if err := e.CheckStored(s.Results); err != nil {
				return err
			}
		}
	}
	for _, f := range e.FailedSteps {
		if !slices.Contains(failed, f) {
			return fmt.Errorf("step %s should have failed", f)
		}
	}
	return nil
}

func splitKey(key string) (ns, name, version string) {
	parts := strings.SplitN(key, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
