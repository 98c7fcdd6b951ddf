package web_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// rowsShown is the JavaScript list of the task UUIDs the list shows.
const rowsShown = `[...document.querySelectorAll("#task-rows tr[data-task]")].map(r => r.dataset.task)`

// TestDashboardFlows drives the overview's charts, the list's initiator
// and time range filters and its correlation id search, the resolution
// of a DLQ entry, and a task created from a template's form, in headless
// Chromium against a real server and database.
func TestDashboardFlows(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	h := newHarness(t)
	linear := h.fixture("rust/mathematical_sequence.yaml")
	diamond := h.fixture("rust/diamond_pattern.yaml")
	h.drive(diamond.NamespaceName, succeed)
	ui := h.http.URL + "/ui/"

	alice := h.createTaskAs(linear, "alice")
	bob := h.createTaskAs(linear, "bob")
	old := h.createTaskAs(linear, "bob")
	_, err := h.pool.Exec(h.ctx, `UPDATE tasks SET created_at = now() - interval '3 days' WHERE task_uuid = $1`, old.TaskUUID)
	require.NoError(t, err)

	t.Run("filter by initiator and time range", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(ui+"#/tasks"), chromedp.WaitVisible(chromedp.CSS("#f-initiator")),
			chromedp.SendKeys(chromedp.CSS("#f-initiator"), "alice"), chromedp.Click(chromedp.CSS("#f-apply")))
		b.waitFor("only alice's task", fmt.Sprintf(`location.hash.includes("initiator=alice") &&
			JSON.stringify(%s) === %q`, rowsShown, `["`+alice.TaskUUID.String()+`"]`))
		// Bob's tasks created before a day ago: only the old one.
		eval[bool](b, `(document.querySelector("#f-initiator").value = "bob",
			document.querySelector("#f-to").value = localInput(new Date(Date.now() - 86400000).toISOString()), true)`)
		b.run(chromedp.Click(chromedp.CSS("#f-apply")))
		b.waitFor("only bob's old task", fmt.Sprintf(`location.hash.includes("created_to=") &&
			JSON.stringify(%s) === %q`, rowsShown, `["`+old.TaskUUID.String()+`"]`))
		// And since a day ago: only the new one.
		eval[bool](b, `(document.querySelector("#f-to").value = "",
			document.querySelector("#f-from").value = localInput(new Date(Date.now() - 86400000).toISOString()), true)`)
		b.run(chromedp.Click(chromedp.CSS("#f-apply")))
		b.waitFor("only bob's new task", fmt.Sprintf(`location.hash.includes("created_from=") && !location.hash.includes("created_to=") &&
			JSON.stringify(%s) === %q`, rowsShown, `["`+bob.TaskUUID.String()+`"]`))
	})

	t.Run("search by correlation id", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(ui+"#/tasks"), chromedp.WaitVisible(chromedp.CSS("#f-uuid")),
			chromedp.SendKeys(chromedp.CSS("#f-uuid"), bob.CorrelationID.String()), chromedp.Click(chromedp.CSS("#f-open")))
		b.waitFor("the task of that correlation id", fmt.Sprintf(`location.hash.includes("correlation_id=") &&
			!!document.querySelector("#corr-filter") && JSON.stringify(%s) === %q`, rowsShown, `["`+bob.TaskUUID.String()+`"]`))
	})

	t.Run("resolve a DLQ entry", func(t *testing.T) {
		b := b.on(t)
		stuck := h.createTask(linear, input) // no worker serves it: it waits
		done, err := h.store.HandleStaleTask(h.ctx, store.StaleTask{
			TaskUUID: stuck.TaskUUID, Namespace: stuck.Namespace, TaskName: stuck.Name, State: state.TaskStepsInProcess,
			MinutesInState: 45, ThresholdMinutes: 30, CorrelationID: stuck.CorrelationID, RequestedAt: stuck.RequestedAt,
			CreatedAt: stuck.CreatedAt,
		}, store.StaleAction{DLQ: true, Fail: true})
		require.NoError(t, err)
		require.True(t, done)
		b.run(chromedp.Navigate(ui + "#/dlq?status=pending"))
		link := fmt.Sprintf(`#dlq-rows tr[data-task=%q] a`, stuck.TaskUUID.String())
		b.waitFor("the pending entry in the list", fmt.Sprintf(`!!document.querySelector(%q) &&
			document.querySelector(%q).dataset.status === "pending"`, link,
			fmt.Sprintf(`#dlq-rows tr[data-task=%q] [data-status]`, stuck.TaskUUID.String())))
		b.run(chromedp.Click(chromedp.CSS(link)))
		b.waitFor("the entry with its form", `!!document.querySelector("#dlq-form") && !!document.querySelector("#dlq-snapshot")`)
		eval[bool](b, `(document.querySelector("#dlq-new-status").value = "manually_resolved", true)`)
		b.run(chromedp.SendKeys(chromedp.CSS("#dlq-new-notes"), "steps fixed by hand; the customer was told"),
			chromedp.Click(chromedp.CSS("#dlq-save")))
		b.waitFor("the entry resolved, with its notes", `document.querySelector("#dlq-current [data-status]")?.dataset.status === "manually_resolved" &&
			document.querySelector("#dlq-notes").textContent === "steps fixed by hand; the customer was told" &&
			document.querySelector("#dlq-resolved-by").textContent === "dashboard"`)
		b.shot("dashboard-dlq")
		res := h.do(http.MethodGet, "/v1/dlq/task/"+stuck.TaskUUID.String(), nil)
		var e api.DLQEntry
		res.json(t, &e)
		require.Equal(t, api.ResolutionManuallyResolved, e.ResolutionStatus)
		require.NotNil(t, e.ResolutionTimestamp)
	})

	t.Run("create a task from a template's form", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(ui + "#/templates"))
		row := fmt.Sprintf(`#template-rows tr[data-template=%q] a`, diamond.Key())
		b.waitFor("the template in the list", fmt.Sprintf(`!!document.querySelector(%q)`, row))
		b.run(chromedp.Click(chromedp.CSS(row)))
		field := `#task-form input[data-pointer="/context/even_number"]`
		b.waitFor("the graph and the form from the input schema", fmt.Sprintf(`document.querySelectorAll("#dag g.node").length === 4 &&
			document.querySelectorAll("#dag path.edge").length === 4 && !!document.querySelector(%q) &&
			document.querySelector(%q).type === "number"`, field, field))
		errFor := `document.querySelector('[data-error-for="/context/even_number"]').textContent`
		b.run(chromedp.Click(chromedp.CSS("#tf-submit")))
		b.waitFor("the server's error next to the missing field", errFor+` !== "" && location.hash.startsWith("#/templates/")`)
		b.run(chromedp.SendKeys(chromedp.CSS(field), "500"), chromedp.Click(chromedp.CSS("#tf-submit")))
		b.waitFor("the range error next to the field", errFor+`.includes("100")`)
		b.shot("dashboard-template")
		eval[bool](b, fmt.Sprintf(`(document.querySelector(%q).value = "6", true)`, field))
		b.run(chromedp.Click(chromedp.CSS("#tf-submit")))
		b.waitFor("the new task's page, the task complete", `location.hash.startsWith("#/tasks/") &&
			document.querySelector("h1 .state")?.dataset.state === "complete" &&
			document.querySelector("#task-progress").textContent.startsWith("4/4 ")`)
	})

	t.Run("overview charts", func(t *testing.T) {
		b := b.on(t)
		h.busyWorker("dash-worker", linear.NamespaceName, 4, 1)
		b.run(chromedp.Navigate(ui + "#/?window=15m"))
		b.waitFor("the charts drawn from the buckets and the live samples",
			`document.querySelector("#chart-throughput polyline[data-series=created]") !== null &&
			 document.querySelector("#chart-throughput polyline[data-series=completed]") !== null &&
			 document.querySelectorAll("#chart-latency polyline, #chart-latency circle").length > 0 &&
			 document.querySelector("#chart-open polyline") !== null &&
			 document.querySelector("#chart-queues svg") !== null &&
			 document.querySelector("#workers tr") !== null &&
			 document.querySelector('[data-count-state="complete"] .n').textContent === "1"`)
		b.waitFor("the worker's saturation and the total", `
			document.querySelector('#workers tr[data-worker="dash-worker"] meter')?.value === 0.25 &&
			document.querySelector('#workers tr[data-worker="dash-worker"] .saturation-text')?.textContent === " 1/4 (25%)" &&
			document.querySelector("#workers-total meter")?.value === 0.25 &&
			document.querySelector("#workers-total .saturation-text")?.textContent === " 1/4 (25%)"`)
		title := eval[string](b, `document.querySelector("#chart-throughput title").textContent`)
		require.Contains(t, title, "created")
	})
}

// TestDashboardPermissions: with a read-only API key the dashboard hides
// what the key may not do (operator actions, the task form, pages of
// resources it cannot read) instead of offering it and failing.
func TestDashboardPermissions(t *testing.T) {
	t.Parallel()
	const readOnly = "tsk_test-key-read-only" //nolint:gosec // a test's key
	b := newBrowser(t)
	h := newHarness(t, withAuth(func(a *config.WebAuth) {
		a.APIKeys = append(a.APIKeys, config.APIKey{Name: "viewer", KeyHash: auth.HashKey(readOnly), Permissions: []string{
			api.PermTasksRead, api.PermTasksList, api.PermStepsRead, api.PermTemplatesRead, api.PermSystemRead,
			api.PermSystemAnalyticsRead}})
	}))
	diamond := h.fixture("rust/diamond_pattern.yaml")
	h.drive(diamond.NamespaceName, failAt("diamond_branch_c"))
	res := h.do(http.MethodPost, "/v1/tasks", map[string]any{"namespace": diamond.NamespaceName, "name": diamond.Name,
		"version": diamond.Version, "context": map[string]any{"even_number": 6}}, "X-API-Key", testAPIKey)
	require.Equal(t, http.StatusCreated, res.status, "body: %s", res.body)
	var tr api.TaskResponse
	res.json(t, &tr)

	b.run(chromedp.Navigate(h.http.URL + "/ui/"))
	b.waitFor("the sign-in form", `!!document.querySelector("#cred-value")`)
	eval[bool](b, `(document.querySelector("#cred-kind").value = "apikey", true)`)
	b.run(chromedp.SendKeys(chromedp.CSS("#cred-value"), readOnly), chromedp.Click(chromedp.CSS(".login button")))
	b.waitFor("the overview without the DLQ", `document.querySelector("#whoami").textContent.includes("viewer") &&
		document.querySelector('[data-nav="dlq"]').hidden && !document.querySelector('[data-nav="tasks"]').hidden &&
		!!document.querySelector('.notallowed[data-needs="dlq:stats"]') && !!document.querySelector("#chart-throughput")`)

	b.run(chromedp.Navigate(h.http.URL + "/ui/#/tasks/" + tr.TaskUUID.String()))
	b.waitFor("the failed step, without actions", `document.querySelector('#dag [data-step="diamond_branch_c"]')?.dataset.state === "error" &&
		document.querySelector("h1 .state") !== null`)
	require.Zero(t, eval[int](b, `document.querySelectorAll("[data-action]").length`), "no step actions without steps:resolve")
	require.False(t, eval[bool](b, `!!document.querySelector("#cancel-task")`), "no cancel without tasks:cancel")
	require.False(t, eval[bool](b, `!!document.querySelector("#task-dlq")`), "no DLQ link without dlq:read")

	b.run(chromedp.Navigate(h.http.URL + "/ui/#/templates/" + diamond.NamespaceName + "/" + diamond.Name + "/" + diamond.Version))
	b.waitFor("the template without its form", `document.querySelectorAll("#dag g.node").length === 4 &&
		!document.querySelector("#task-form") && !!document.querySelector('.notallowed[data-needs="tasks:create"]')`)
}
