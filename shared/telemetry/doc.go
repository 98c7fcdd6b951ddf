// Package telemetry sets up OpenTelemetry tracing for the orchestration and
// worker processes and carries a task's trace context between them.
//
// A task's trace starts (or continues, from the request's traceparent
// header) when the API creates the task; the W3C traceparent of that span is
// stored on the task row, so every process that later works on the task
// (orchestrators, workers in Go, Ruby, Python or WASM) starts its spans as
// children of it. Tracing is off by default: then [Setup] returns a nil
// [Tracer], and code that traces checks for nil before doing anything.
package telemetry
