package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
)

// chromiumPath finds a Chromium the browser tests can drive, or skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: the dashboard browser tests need Debian's chromium (scripts/ensure-services.sh installs it)")
	return ""
}

// browser is one headless Chromium tab for a test; JavaScript exceptions
// on its pages fail the test.
type browser struct {
	t   *testing.T
	ctx context.Context
	js  *jsErrors
}

// jsErrors collects the exceptions thrown on the pages.
type jsErrors struct {
	mu   sync.Mutex
	errs []string
}

// on is the browser for a subtest: failures end the subtest.
func (b *browser) on(t *testing.T) *browser { return &browser{t: t, ctx: b.ctx, js: b.js} }

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1200, 900))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, js: &jsErrors{}}
	// The first call starts the browser, which lives as long as bctx.
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			b.js.mu.Lock()
			b.js.errs = append(b.js.errs, exceptionText(e.ExceptionDetails))
			b.js.mu.Unlock()
		}
	}), "starting chromium")
	ctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	b.ctx = ctx
	t.Cleanup(func() {
		tcancel()
		cancel()
		acancel()
		b.js.mu.Lock()
		defer b.js.mu.Unlock()
		require.Empty(t, b.js.errs, "JavaScript exceptions on the dashboard")
	})
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, actions...))
}

// eval evaluates a JavaScript expression on the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, expr)
	return v
}

// waitFor polls a JavaScript expression until it is true: the tests wait
// on what the page shows, never on time.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText + "\n" + (document.querySelector("#confirm-error")?.textContent || "")`))
		b.t.Fatalf("waiting for %s (%s): %v\npage shows:\n%s", what, expr, err, body)
	}
}

// shot saves a screenshot of the page as docs' name.png when
// TASKER_DASHBOARD_SCREENSHOTS names a directory
// (scripts/dashboard-screenshots.sh); otherwise it does nothing.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("TASKER_DASHBOARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// dashboardScript plays the workers of the browser tests: the task's
// even_number picks the behaviour. 2 holds every step until release is
// closed, 4 fails diamond_branch_c once (permanently), anything else
// succeeds.
func dashboardScript(release <-chan struct{}) func(cs store.ClaimedStep) outcome {
	var mu sync.Mutex
	failed := map[string]bool{}
	return func(cs store.ClaimedStep) outcome {
		var c struct {
			EvenNumber int `json:"even_number"`
		}
		_ = json.Unmarshal(cs.Task.Context, &c)
		switch c.EvenNumber {
		case 2:
			return outcome{hold: release}
		case 4:
			mu.Lock()
			defer mu.Unlock()
			if cs.Step.Name == "diamond_branch_c" && !failed[cs.Task.UUID.String()] {
				failed[cs.Task.UUID.String()] = true
				return outcome{fail: true}
			}
		}
		return outcome{}
	}
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// a real server and database: a diamond task's graph turns complete live,
// a failed step is reset from the task page and the task finishes, the
// list filters, and the overview counts tasks per state.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	h := newHarness(t)
	diamond := h.fixture("rust/diamond_pattern.yaml")
	linear := h.fixture("rust/mathematical_sequence.yaml")
	release := make(chan struct{})
	h.drive(diamond.NamespaceName, dashboardScript(release))
	ui := h.http.URL + "/ui/"

	t.Run("live graph", func(t *testing.T) {
		b := b.on(t)
		tr := h.createTask(diamond, `{"even_number": 2}`)
		b.run(chromedp.Navigate(ui + "#/tasks/" + tr.TaskUUID.String()))
		b.waitFor("the graph with its four steps, the first held by a worker",
			`document.querySelectorAll("#dag g.node").length === 4 &&
			 document.querySelector('#dag [data-step="diamond_start"]').dataset.state !== "complete"`)
		edges := eval[int](b, `document.querySelectorAll("#dag path.edge").length`)
		require.Equal(t, 4, edges, "start→b, start→c, b→end, c→end")
		close(release)
		b.waitFor("every step complete and the task complete, without a reload",
			`[...document.querySelectorAll("#dag g.node")].every(g => g.dataset.state === "complete") &&
			 document.querySelector("#task-progress").textContent.startsWith("4/4 ") &&
			 document.querySelector("h1 .state").dataset.state === "complete" &&
			 document.querySelectorAll("#timeline li").length > 0`)
	})

	var resetTask string
	t.Run("reset a failed step", func(t *testing.T) {
		b := b.on(t)
		tr := h.createTask(diamond, `{"even_number": 4}`)
		resetTask = tr.TaskUUID.String()
		b.run(chromedp.Navigate(ui + "#/tasks/" + tr.TaskUUID.String()))
		reset := `[data-action="reset_for_retry"][data-for="diamond_branch_c"]`
		b.waitFor("the failed step's reset button", fmt.Sprintf(`!!document.querySelector(%q)`, reset))
		// Clicked in one step: the row may be redrawn between a query and a click.
		eval[bool](b, fmt.Sprintf(`(document.querySelector(%q).click(), true)`, reset))
		b.run(chromedp.WaitVisible(chromedp.CSS("#confirm-reason")),
			chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "flaky dependency, retried from the dashboard"),
			chromedp.Click(chromedp.CSS("#confirm-ok")))
		b.waitFor("the task complete after the reset, with its steps read again",
			`document.querySelector("h1 .state").dataset.state === "complete" &&
			 document.querySelector("#task-progress").textContent.startsWith("4/4 ") &&
			 !document.querySelector('[data-step-row="diamond_branch_c"] .error') &&
			 document.querySelector('#dag [data-step="diamond_branch_c"]').dataset.state === "complete"`)
		b.shot("dashboard-task")
		res := h.do(http.MethodGet, fmt.Sprintf("/v1/tasks/%s/workflow_steps/%s/audit", tr.TaskUUID,
			stepByName(t, h.getTask(tr.TaskUUID), "diamond_branch_c").StepUUID), nil)
		require.Equal(t, http.StatusOK, res.status)
	})

	t.Run("filter the list", func(t *testing.T) {
		b := b.on(t)
		l1 := h.createTask(linear, input)
		h.createTask(linear, input)
		b.run(chromedp.Navigate(ui+"#/tasks"),
			chromedp.WaitVisible(chromedp.CSS("#f-namespace")),
			chromedp.SendKeys(chromedp.CSS("#f-namespace"), linear.NamespaceName),
			chromedp.Click(chromedp.CSS("#f-apply")))
		b.waitFor("only the two linear tasks",
			fmt.Sprintf(`location.hash.includes("namespace=") && document.querySelectorAll("#task-rows tr[data-task]").length === 2 &&
			 [...document.querySelectorAll("#task-rows tr[data-task]")].every(r => r.textContent.includes(%q))`, linear.Name))
		eval[bool](b, `(document.querySelector("#f-namespace").value = "", document.querySelector("#f-state").value = "complete", true)`)
		b.run(chromedp.Click(chromedp.CSS("#f-apply")))
		b.waitFor("only the two complete diamond tasks",
			fmt.Sprintf(`location.hash.includes("state=complete") && document.querySelectorAll("#task-rows tr[data-task]").length === 2 &&
			 [...document.querySelectorAll("#task-rows tr[data-task]")].every(r => r.textContent.includes(%q))`, diamond.Name))
		b.shot("dashboard-tasks")
		b.run(chromedp.SendKeys(chromedp.CSS("#f-uuid"), l1.TaskUUID.String()),
			chromedp.Click(chromedp.CSS("#f-open")))
		b.waitFor("the task found by UUID", fmt.Sprintf(`document.querySelector("main").textContent.includes(%q) &&
			!!document.querySelector("#dag g.node")`, l1.TaskUUID.String()))
	})

	t.Run("overview", func(t *testing.T) {
		b := b.on(t)
		h.busyWorker("worker-1", linear.NamespaceName, 4, 2) // the two linear tasks' first steps
		b.run(chromedp.Navigate(ui))
		b.waitFor("two complete tasks, two waiting and the queues",
			`document.querySelector('[data-count-state="complete"] .n')?.textContent === "2" &&
			 document.querySelector("#dlq-total") !== null && document.querySelector("#health .state") !== null`)
		states := eval[[]string](b, `[...document.querySelectorAll("[data-count-state]")].map(c => c.dataset.countState + "=" + c.querySelector(".n").textContent)`)
		total := 0
		for _, s := range states {
			var n int
			_, err := fmt.Sscanf(s[strings.Index(s, "=")+1:], "%d", &n)
			require.NoError(t, err)
			total += n
		}
		require.Equal(t, 4, total, "every task counted once: %v", states)
		b.waitFor("the worker half saturated", `document.querySelector('#workers tr[data-worker="worker-1"] .saturation-text')?.textContent === " 2/4 (50%)"`)
		b.shot("dashboard-overview")
	})

	t.Run("on a phone in dark mode", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
				return err
			}),
			chromedp.Navigate(ui+"#/tasks/"+resetTask))
		b.waitFor("the task page", `document.querySelectorAll("#dag g.node").length === 4`)
		require.True(t, eval[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`),
			"the page is wider than a phone's screen (the graph and tables scroll inside their boxes)")
		require.Equal(t, "rgb(18, 20, 23)", eval[string](b, `getComputedStyle(document.body).backgroundColor`),
			"dark colours follow prefers-color-scheme")
		b.shot("dashboard-phone-dark")
	})
}

// TestDashboardWithAuthentication: with authentication on, the static files
// stay open, the dashboard asks for a credential, refuses a wrong one with
// the server's message, and with an API key shows the overview and follows
// a task's event stream (sent with the key in a header).
func TestDashboardWithAuthentication(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	h := newHarness(t, withAuth(nil))
	tpl := h.fixture("rust/diamond_pattern.yaml")
	res := h.do(http.MethodPost, "/v1/tasks", map[string]any{"namespace": tpl.NamespaceName, "name": tpl.Name,
		"version": tpl.Version, "context": json.RawMessage(input), "initiator": "tests"}, "X-API-Key", testAPIKey)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var tr struct {
		TaskUUID string `json:"task_uuid"`
	}
	res.json(t, &tr)

	signIn := func(kind, value string) {
		b.waitFor("the sign-in form", `!!document.querySelector("#cred-value")`)
		eval[bool](b, fmt.Sprintf(`(document.querySelector("#cred-kind").value = %q, true)`, kind))
		b.run(chromedp.SendKeys(chromedp.CSS("#cred-value"), value), chromedp.Click(chromedp.CSS(".login button")))
	}
	b.run(chromedp.Navigate(h.http.URL + "/ui/"))
	signIn("apikey", "tsk_not-a-key")
	b.waitFor("the refusal", `document.querySelector("main [role=alert]")?.textContent.includes("refused")`)
	signIn("apikey", testAPIKey)
	b.waitFor("the overview counting the task",
		`[...document.querySelectorAll("[data-count-state] .n")].reduce((n, e) => n + Number(e.textContent), 0) === 1 &&
		 !document.querySelector("#signout").hidden`)

	b.run(chromedp.Navigate(h.http.URL + "/ui/#/tasks/" + tr.TaskUUID))
	b.waitFor("the task's events, streamed with the API key",
		`[...document.querySelectorAll("#timeline li")].some(li => li.textContent.includes("steps_enqueued"))`)

	b.run(chromedp.Click(chromedp.CSS("#signout")))
	b.waitFor("the sign-in form again", `!!document.querySelector("#cred-value")`)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "exception"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}
