// Package worker is the worker foundation: everything a worker process does
// except business logic, and the API business logic is written in.
//
// # Handlers
//
// A handler runs one kind of step. It is a function (or a value with a
// Handle method) of a typed input returning a typed result or an error:
//
//	type Order struct {
//		ID     string `json:"id"`
//		Amount int    `json:"amount"`
//	}
//
//	func chargeCard(ctx context.Context, step *worker.Step[Order]) (Charge, error) {
//		charge, err := gateway.Charge(ctx, step.Input.ID, step.Input.Amount, step.StepUUID().String())
//		if err != nil {
//			return Charge{}, err // retried while the template allows
//		}
//		return Charge{ID: charge.ID}, nil
//	}
//
// Register it under the handler.callable string of the templates whose steps
// it runs; tasker-core's callables ("Billing::ChargeCard",
// "tasker_example_rs::...") work as they are:
//
//	reg := worker.NewRegistry()
//	err := worker.Register(reg, "orders.charge_card", worker.Func(chargeCard))
//
// Before the handler runs, the worker decodes the task context (the input
// the task was created with) into Step.Input, once. A context that does not
// decode fails the step as a permanent ValidationError naming the field; the
// handler never sees it. An input of json.RawMessage or map[string]any reads
// the context untyped; struct{} reads nothing.
//
// The rest of the step is on the embedded *StepContext: identity (StepUUID,
// stable across attempts, is a good idempotency key), Attempt, MaxAttempts,
// IsRetry and IsLastAttempt, Method (the template's handler.method),
// Checkpoint, and the raw documents. Config decodes the step's
// configuration (the template's handler.initialization) into a type of the
// handler's choosing; Dependency decodes the result of any completed
// ancestor step by name. Both return errors the handler can return as they
// are: they are already permanent and name what is wrong.
//
// What the handler returns is stored as the step's result (JSON-encoded),
// and dependent steps read it by the step's name. SetMetadata attaches
// handler metadata stored beside it.
//
// # Failures are errors
//
// A returned error fails the step. A plain error is retried with the
// template's backoff while retry.retryable allows and attempts remain, and
// is recorded with error type UnexpectedError: tasker-core's rule, where an
// exception that is not one of its permanent classes is retried. Wrappers
// say more, compose in any order and keep errors.Is and errors.As working:
//
//	worker.Permanent(err)                      // do not retry
//	worker.RetryAfter(err, 30*time.Second)     // retry, but not before 30 s (capped by configuration)
//	worker.WithErrorType(err, "PaymentDeclined")
//	worker.WithErrorCode(err, "CARD_DECLINED")
//	worker.WithMetadata(err, map[string]any{"gateway": "stripe"})
//
// An *Error literal sets everything at once, and Classify reports how the
// worker will record any error. A panic is recovered and fails the step
// without a retry (handler_panic, with its stack). A step that runs past
// its timeout_seconds fails as a retryable handler_timeout, whatever the
// handler returns once its context ends.
//
// The handler's context is cancelled when the step times out
// (context.Cause is ErrStepTimeout), when the worker loses the step's claim
// (ErrClaimLost: the result would be stale and is dropped) and when a
// stopping worker runs out of grace (ErrShuttingDown: the step is released
// for another worker). A long step can save progress with YieldCheckpoint
// and is then called again with StepContext.Checkpoint holding it.
//
// # Testing
//
// Package workertest builds steps in memory and runs handlers as a worker
// does, without a database: workertest.Run returns a typed handler's output
// and error, workertest.Execute the Result a worker would record, and
// workertest.RunTemplate runs a whole template.
//
// # Running handlers
//
// Open loads the configuration like the tasker-worker binary, connects and
// builds the worker; Service.Run serves until its context ends. New builds
// a bare Core on a store you built yourself.
//
// Every step runs through an Executor: the Registry for Go handlers, and
// Options.Fallback for the rest, such as the ChannelExecutor that Ruby and
// Python bindings poll through the C ABI. An executor returns a Result
// (ResultOf, DecodeResult); handlers never need one.
//
// # The Core
//
// Core runs the rest (New, Start, Stop):
//
//   - At start it registers the task templates found on the search paths
//     (plus any given directly) and ensures the queues of its namespaces.
//   - A claim loop per namespace (claim_loop.go) claims steps in batches
//     sized by the free handler slots: one store.ClaimNext transaction
//     claims the queue messages (with a visibility timeout), moves their
//     steps to in_progress and hydrates them. It is woken by NOTIFY, the queue's
//     fallback poll (one statement for every queue of the process), and
//     the moment the next delayed message becomes visible; an idle claim
//     loop sends no queries.
//   - Each claimed step runs through an Executor (executor.go, dispatch.go):
//     Go handlers in process on a goroutine each, anything else through a
//     fallback such as the ChannelExecutor that Ruby and Python bindings
//     poll. A fallback that is an AsyncExecutor gets the step without a
//     goroutine waiting for it: the result is processed on the thread that
//     reports it. The worker enforces the step timeout and turns panics,
//     timeouts and missing handlers into failures, so every claimed step
//     produces a result (runner.go).
//   - The completer (completer.go) commits results in batches: a lone
//     result at once, the results that arrive meanwhile together in the
//     next transaction.
//   - The heartbeat (heartbeat.go) extends the claims of long-running
//     steps and cancels handlers whose claim was lost; the scaler
//     (scaler.go) adapts the handler limit to the backlog.
//   - Stop stops claiming, lets handlers finish within the shutdown grace,
//     releases the rest for another worker and commits every result.
//
// Core.HTTPHandler serves the worker's HTTP API: health, readiness,
// details, Prometheus metrics and the registered templates.
package worker
