// Package web is the orchestration service's REST API: task creation and
// inspection, operator fixes to steps, a live event stream per task, task
// templates, the dead letter queue, health checks and Prometheus metrics.
//
// Paths, field names and error codes follow tasker-core's orchestration API,
// so existing clients keep working. Every request and response body is a
// type of package api, which the Go client shares; handlers convert what
// the store returns into those types (views.go). Routes are registered with
// huma on a chi router, which generates the OpenAPI document
// (/api-docs/openapi.json) from the handlers and those types.
//
// Every error leaves the server in one envelope (api.ErrorResponse),
//
//	{"error": {"code": "NOT_FOUND", "message": "…"}}
//
// and the mapping from Go errors to codes and HTTP statuses lives in one
// function (see errorFor). That includes the errors huma itself produces for
// malformed parameters and oversized bodies.
//
// Server has the start/stop shape of every long-running component: Start
// listens, Stop ends open event streams at once and drains in-flight
// requests within its context. Handler exposes the routes for tests and for
// processes that serve them on a listener of their own.
package web
