package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
)

// defaultWorkerPort is the worker API's default port (worker.web).
const defaultWorkerPort = "8081"

// newSystemCmd builds `tasker system`: the health of the whole system.
func newSystemCmd() *cobra.Command {
	f := &apiFlags{}
	cmd := apiCommand(&cobra.Command{
		Use:   "system",
		Short: "Check the health of the orchestration server and workers",
	}, f, true)
	cmd.AddCommand(newSystemHealthCmd(f))
	return cmd
}

func newSystemHealthCmd(f *apiFlags) *cobra.Command {
	var workerURLs []string
	var workerToken string
	cmd := &cobra.Command{
		Use:   "health [--worker-url URL]...",
		Short: "Summarise orchestration and worker health: database, pool, queues, workers",
		Long: `Read the orchestration server's /health/detailed and each worker's
/health/detailed, and summarise them: status, leadership, database pool, queue
depths and message ages; for workers their namespaces, steps in flight and
concurrency.

--worker-url names a worker's API (repeatable). A URL without a scheme gets
http://, one without a port gets :8081 (the worker API's default), so
'--worker-url worker-1' means http://worker-1:8081 and ':8081' the local one.
Workers get --worker-token, else $TASKER_WORKER_AUTH_TOKEN, else the
credential the orchestration server gets (except
$TASKER_ORCHESTRATION_AUTH_TOKEN).

Exit status 0 when everything answers healthy, 1 otherwise (degraded,
unhealthy, shutting down, or unreachable); the summary is printed either way.
With --output json the documents are printed as
{"orchestration": {"url", "health" | "error"}, "workers": [{"url", "health" | "error"}]}.`,
		Example: `  tasker system health
  tasker system health --worker-url :8081 --worker-url worker-2
  tasker system health --url http://orchestration:8080 -o json`,
		Args: argNames(),
		RunE: runAPI(f, func(s *apiSession, _ []string) error {
			urls := make([]string, 0, len(workerURLs))
			for _, raw := range workerURLs {
				u, err := workerURL(raw)
				if err != nil {
					return badUsage(s.cmd, "--worker-url: %v", err)
				}
				urls = append(urls, u)
			}
			wc, err := f.credentials(s.cmd, "")
			if err != nil {
				return err
			}
			switch v := strings.TrimSpace(os.Getenv(envWorkerToken)); {
			case workerToken != "":
				if wc.token, err = secretFlag(s.cmd, "worker-token", workerToken); err != nil {
					return err
				}
				wc.apiKey = ""
			case v != "":
				wc.token, wc.apiKey = v, ""
			}
			return systemHealth(s, f, urls, wc)
		}),
	}
	cmd.Flags().StringArrayVar(&workerURLs, "worker-url", nil, "a worker API `URL` to check too (repeatable; default port 8081)")
	cmd.Flags().StringVar(&workerToken, "worker-token", "", "bearer `JWT` for the worker APIs, or @FILE "+
		"(default $TASKER_WORKER_AUTH_TOKEN, else the orchestration credential)")
	return cmd
}

// workerURL completes a --worker-url value: http:// and port 8081 by
// default.
func workerURL(raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", fmt.Errorf("empty URL")
	}
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" && u.Port() == "" {
		return "", fmt.Errorf("%q is not a URL (want something like http://worker-1:8081)", raw)
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	port := u.Port()
	if port == "" {
		port = defaultWorkerPort
	}
	u.Host = net.JoinHostPort(host, port)
	return strings.TrimRight(u.String(), "/"), nil
}

// healthReport is what `system health -o json` prints for one component.
type healthReport struct {
	URL    string          `json:"url"`
	Health json.RawMessage `json:"health,omitempty"`
	Error  string          `json:"error,omitempty"`
}

func systemHealth(s *apiSession, f *apiFlags, workerURLs []string, workerCreds credentials) error {
	var problems []string
	orch := healthReport{URL: s.c.BaseURL()}
	oh, err := s.c.DetailedHealth(s.ctx)
	if err != nil {
		orch.Error = strings.TrimPrefix(apiError(err).Error(), "error: ")
		problems = append(problems, "orchestration unreachable")
	} else {
		orch.Health = slices.Clone(s.last)
		if oh.Status != "healthy" {
			problems = append(problems, "orchestration "+oh.Status)
		}
	}
	workers := make([]healthReport, len(workerURLs))
	whs := make([]*client.WorkerHealth, len(workerURLs))
	for i, u := range workerURLs {
		workers[i].URL = u
		var raw []byte
		wc, err := newAPIClient(u, f.timeout, workerCreds, func(_, _ string, _ int, body []byte) { raw = slices.Clone(body) })
		if err == nil {
			whs[i], err = wc.WorkerHealth(s.ctx)
		}
		if err != nil {
			whs[i] = nil
			workers[i].Error = workerError(u, err)
			problems = append(problems, "worker "+u+" unreachable")
			continue
		}
		workers[i].Health = raw
		if whs[i].Status != "healthy" {
			problems = append(problems, "worker "+u+" "+whs[i].Status)
		}
	}

	if s.json {
		doc, err := json.Marshal(map[string]any{"orchestration": orch, "workers": workers})
		if err != nil {
			return err
		}
		if err := writeIndentedJSON(s.out, doc); err != nil {
			return err
		}
	} else {
		if oh != nil && orch.Error == "" {
			printOrchestrationHealth(s.out, orch.URL, oh)
		} else {
			fmt.Fprintf(s.out, "Orchestration  %s\n  %s\n", orch.URL, strings.ReplaceAll(orch.Error, "\n", "\n  "))
		}
		if len(workerURLs) == 0 {
			fmt.Fprintln(s.out, "\nWorkers: none checked (give --worker-url for each worker API, default port 8081)")
		}
		for i, w := range workers {
			fmt.Fprintln(s.out)
			if whs[i] == nil {
				fmt.Fprintf(s.out, "Worker  %s\n  %s\n", w.URL, strings.ReplaceAll(w.Error, "\n", "\n  "))
				continue
			}
			printWorkerHealth(s.out, w.URL, whs[i])
		}
	}
	if len(problems) > 0 {
		return exitCodeError{code: exitAPIFailure, msg: "error: not healthy: " + strings.Join(problems, "; ")}
	}
	return nil
}

// workerError explains why a worker's health could not be read.
func workerError(url string, err error) string {
	var ce *client.ConnectionError
	if errors.As(err, &ce) {
		return fmt.Sprintf("cannot reach the worker API at %s: %v\n(is the worker running, with its API enabled: [worker.web] enabled = true?)", url, ce.Err)
	}
	return strings.TrimPrefix(apiError(err).Error(), "error: ")
}

func durationOfSeconds(seconds float64) string {
	return shortDuration(time.Duration(seconds * float64(time.Second)))
}

func printOrchestrationHealth(w io.Writer, url string, h *client.DetailedHealth) {
	tw := newTable(w)
	detailLine(tw, "Orchestration", url)
	status := fmt.Sprintf("%s (version %s, up %s", h.Status, orDash(h.Version), durationOfSeconds(h.UptimeSeconds))
	if h.Leader {
		status += ", leader: runs the cluster-wide loops"
	} else {
		status += ", not the leader"
	}
	detailLine(tw, "Status", status+")")
	for _, check := range []struct{ name, label string }{
		{"database", "Database"}, {"queues", "Queues"}, {api.CheckUnservedSteps, "Unserved steps"},
	} {
		if c, ok := h.Checks[check.name]; ok {
			v := fmt.Sprintf("%s (%dms)", c.Status, c.DurationMs)
			if c.Message != "" {
				v += ": " + c.Message
			}
			detailLine(tw, check.label, v)
		}
	}
	p := h.Pool
	detailLine(tw, "Pool", fmt.Sprintf("%d of %d connections in use (%.0f%%), %d idle; %d acquires, %d waited, %.0fms waiting in all",
		p.AcquiredConns, p.MaxConns, p.Utilization*100, p.IdleConns, p.AcquireCount, p.EmptyAcquireCount, p.AcquireWaitMs))
	_ = tw.Flush()
	if len(h.Queues) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		tableRow(tw, "QUEUE", "DEPTH", "VISIBLE", "OLDEST", "STATUS")
		for _, q := range h.Queues {
			tableRow(tw, q.Queue, fmt.Sprint(q.Depth), fmt.Sprint(q.Visible), messageAge(q.OldestMessageAgeSeconds), q.Status)
		}
		_ = tw.Flush()
	}
	if len(h.UnservedSteps) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		tableRow(tw, "UNSERVED NAMESPACE", "CALLABLE (no live worker has it)", "STEPS", "OLDEST")
		for _, u := range h.UnservedSteps {
			tableRow(tw, u.Namespace, orDash(u.Callable), fmt.Sprint(u.Steps), messageAge(u.OldestMessageAgeSeconds))
		}
		_ = tw.Flush()
	}
}

func messageAge(seconds float64) string {
	if seconds <= 0 {
		return "-"
	}
	return durationOfSeconds(seconds)
}

func printWorkerHealth(w io.Writer, url string, h *client.WorkerHealth) {
	tw := newTable(w)
	detailLine(tw, "Worker", url)
	who := h.WorkerID
	if h.Hostname != "" {
		who += " on " + h.Hostname
	}
	detailLine(tw, "Status", fmt.Sprintf("%s (%s, %s, up %s)", h.Status, who, h.State, durationOfSeconds(h.UptimeSeconds)))
	detailLine(tw, "Namespaces", orDash(strings.Join(h.Namespaces, ", ")))
	st := h.Stats
	detailLine(tw, "In flight", fmt.Sprintf("%d running, %d completing; since start %d claimed, %d recorded, %d stale, %d released, %d lost",
		st.Running, st.Completing, st.Claimed, st.Recorded, st.Stale, st.Released, st.Lost))
	c := h.Concurrency
	mode := "fixed"
	if c.Adaptive {
		mode = "adaptive"
	}
	detailLine(tw, "Concurrency", fmt.Sprintf("%d of %d slots in use (%s, min %d, max %d)", c.InUse, c.Limit, mode, c.Min, c.Max))
	db := h.Database.Status
	if h.Database.Error != "" {
		db += ": " + h.Database.Error
	}
	if p := h.Database.Pool; p != nil {
		db += fmt.Sprintf("; pool %d of %d connections in use, %d idle", p.AcquiredConns, p.MaxConns, p.IdleConns)
	}
	detailLine(tw, "Database", db)
	_ = tw.Flush()
	if len(h.Queues) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	tableRow(tw, "QUEUE", "DEPTH", "VISIBLE", "OLDEST")
	for _, q := range h.Queues {
		tableRow(tw, q.Queue, fmt.Sprint(q.Depth), fmt.Sprint(q.Visible), messageAge(q.OldestAge.Seconds()))
	}
	_ = tw.Flush()
}
