// Package worker is the worker foundation: everything a worker process does
// except business logic.
//
// Go users implement Handler (or use HandlerFunc), register it in a
// Registry under the template's handler.callable string, and return Success
// or Failure from a StepContext that carries the task context, the step's
// configuration and every completed ancestor's result.
//
// Core runs the rest (New, Start, Stop):
//
//   - At start it registers the task templates found on the search paths
//     (plus any given directly) and ensures the queues of its namespaces.
//   - A claim loop per namespace (claim_loop.go) claims steps in batches
//     sized by the free handler slots: one queue claim with a visibility
//     timeout, then one store.ClaimSteps round trip that moves the steps to
//     in_progress and hydrates them. It is woken by NOTIFY, the queue's
//     fallback poll (one statement for every queue of the process), and
//     the moment the next delayed message becomes visible; an idle claim
//     loop sends no queries.
//   - Each claimed step runs through an Executor (executor.go): Go handlers
//     in process, anything else through a fallback such as the
//     ChannelExecutor that Ruby and Python bindings poll. The worker
//     enforces the step timeout and turns panics, timeouts and missing
//     handlers into failures, so every claimed step produces a result
//     (runner.go).
//   - The completer (completer.go) commits results in batches: a lone
//     result at once, the results that arrive meanwhile together in the
//     next transaction.
//   - The heartbeat (heartbeat.go) extends the claims of long-running
//     steps and cancels handlers whose claim was lost; the scaler
//     (scaler.go) adapts the handler limit to the backlog.
//   - Stop stops claiming, lets handlers finish within the shutdown grace,
//     releases the rest for another worker and commits every result.
//
// Core.Handler serves the worker's HTTP API: health, readiness, details,
// Prometheus metrics and the registered templates.
package worker
