// Package native holds the Go handlers of the example workflows, the
// counterpart of tasker-core's Rust example worker.
//
// Register adds every handler to a worker.Registry under the exact
// handler.callable strings tasker-core's Rust task templates use (and the
// Ruby error-scenario templates), so those files run unchanged on a Go
// worker:
//
//   - arithmetic workflows on an even number: linear (four squarings,
//     n^16), diamond (n^16), hierarchical tree (n^64, returned as a decimal
//     string) and the mixed DAG (n^64 in 128-bit unsigned arithmetic that
//     saturates at 2^128-1, as tasker-core's u128 does);
//   - business workflows with simulated services: order fulfillment,
//     e-commerce checkout, analytics data pipeline, microservice user
//     registration, payments and customer-success refunds, domain events;
//   - test handlers: FailNTimesHandler (retry mechanics), the error
//     scenarios (success, permanent, retryable), a multi-method handler
//     dispatching on handler.method, a no-op and an echo handler.
//
// Everything a handler computes is deterministic: identifiers (reservation,
// transaction, tracking numbers…) are derived from the step's UUID, so a
// retried step produces the same identifiers (they double as idempotency
// keys) and tests can assert exact values. Only timestamps use the clock.
//
// Integers that do not fit in an int64 are returned as decimal strings;
// handlers that read an ancestor's number accept either form. Money is
// computed in integer cents and returned as a JSON number with at most two
// decimals.
//
// Templates returns this package's own example templates (embedded from
// templates/*.yaml), which use the same callables; Demos, DemoInputs and
// DemoExpectations give a task context for each and what the finished task
// must hold, for `tasker dev --demo`, `tasker bench` and tests.
package native
