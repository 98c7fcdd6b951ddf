// Package workertest runs step handlers without a database, for unit tests.
//
// A handler sees its step through a *worker.StepContext: the task context
// (the task's input), the step configuration (the template's
// handler.initialization), the results of completed ancestor steps by name,
// the attempt number and the handler method. NewStep builds one:
//
//	step := workertest.NewStep("reserve_inventory").
//		WithContext(map[string]any{"items": items}).
//		WithConfig(map[string]any{"warehouse": "east"}).
//		WithDependency("validate_order", map[string]any{"total": 59.98}).
//		WithAttempt(2, 3).
//		Build()
//	res := workertest.Run(myHandler, step)
//
// WithDependency takes the value the ancestor's handler passed to
// worker.Success; the builder wraps it as a stored step execution result, so
// DependencyResult, DecodeDependency and DependencyField behave exactly as
// they do on a worker.
//
// Run calls the handler the way a worker does: a panic becomes a
// non-retryable failure and a success value that cannot be encoded as JSON
// becomes an invalid_result failure. Value and DecodeValue give back the
// success value as the JSON a worker would store.
//
// RunTemplate runs a whole parsed template in memory: it checks the task
// context against the template's input_schema, runs the steps in dependency
// order with the registry's handlers, feeds each step the results of its
// ancestors and retries retryable failures at once (no backoff) while the
// template's retry policy allows. It is the quickest way to check that a
// set of handlers completes a workflow.
package workertest
