// Package workertest runs step handlers without a database, for unit tests.
//
// NewStep builds the step a handler sees: the task context (the task's
// input, which a typed handler receives decoded), the step configuration
// (the template's handler.initialization), the results of completed
// ancestor steps by name, the attempt number and the handler method:
//
//	step := workertest.NewStep("reserve_inventory").
//		WithContext(order).
//		WithConfig(map[string]any{"warehouse": "east"}).
//		WithDependency("validate_order", map[string]any{"total": 59.98}).
//		WithAttempt(2, 3)
//	out, err := workertest.Run(worker.Func(reserveInventory), step)
//
// WithDependency takes the value the ancestor's handler returned; the
// builder wraps it as a stored step execution result, so worker.Dependency
// reads it exactly as on a worker.
//
// Run calls a typed handler the way a worker does and returns its output
// and error: the task context is decoded into the handler's input type first
// (a context that does not decode is the permanent ValidationError the step
// would fail with, and the handler does not run), a panic becomes a
// permanent handler_panic error and an output that cannot be encoded as
// JSON a permanent invalid_result error. worker.Classify tells how the
// worker records an error (type, code, retryable, Retry-After, metadata).
//
// Execute runs a step through any worker.Executor (a worker.Registry, by
// the step's callable) and returns the worker.Result a worker would record;
// Value and DecodeValue give back a success's value as the JSON a worker
// stores.
//
// RunTemplate runs a whole parsed template in memory: it checks the task
// context against the template's input_schema, runs the steps in dependency
// order with the registry's handlers, feeds each step the results of its
// ancestors and retries retryable failures at once (no backoff) while the
// template's retry policy allows. It is the quickest way to check that a
// set of handlers completes a workflow.
package workertest
