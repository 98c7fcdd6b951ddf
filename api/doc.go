// Package api defines the orchestration REST API's request and response
// bodies, once: the server (orchestration/web) answers with these types,
// huma generates the OpenAPI document (/api-docs/openapi.json) from them, and
// the Go client (package client) decodes into them. The wire format is
// tasker-core's: paths, field names and error codes follow its
// orchestration API.
//
// The types are plain structs with explicit json tags and no behaviour
// beyond small helpers; they import nothing from this module, so any
// program can use them. Field documentation in `doc` tags ends up in the
// OpenAPI document. Everything the database holds is converted into these
// types at the edge (orchestration/web); the store's own types carry no
// JSON tags meant for the API.
//
// Every error answer is an ErrorResponse:
//
//	{"error": {"code": "NOT_FOUND", "message": "…"}}
package api
