package web

import (
	"net/http"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// routePermissions declares the permission of every route this server
// registers: THE place to add a route's permission. A route missing here
// is refused to every caller when authentication is on, and
// TestEveryRouteDeclaresAPermission fails. Permissions follow tasker-core's
// vocabulary; see docs/security.md.
var routePermissions = auth.Routes{
	auth.RouteKey(http.MethodPost, "/v1/tasks"):                     {Permission: api.PermTasksCreate},
	auth.RouteKey(http.MethodGet, "/v1/tasks"):                      {Permission: api.PermTasksList},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}"):               {Permission: api.PermTasksRead},
	auth.RouteKey(http.MethodDelete, "/v1/tasks/{uuid}"):            {Permission: api.PermTasksCancel},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/summary"):       {Permission: api.PermTasksRead},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/domain_events"): {Permission: api.PermTasksRead},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/events"): {
		Permission: api.PermTasksRead, QueryToken: config.EndpointsEvents},

	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/workflow_steps"):                   {Permission: api.PermStepsRead},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}"):       {Permission: api.PermStepsRead},
	auth.RouteKey(http.MethodPatch, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}"):     {Permission: api.PermStepsResolve},
	auth.RouteKey(http.MethodGet, "/v1/tasks/{uuid}/workflow_steps/{step_uuid}/audit"): {Permission: api.PermStepsRead},

	auth.RouteKey(http.MethodGet, "/v1/templates"):                              {Permission: api.PermTemplatesRead},
	auth.RouteKey(http.MethodGet, "/v1/templates/{namespace}/{name}/{version}"): {Permission: api.PermTemplatesRead},

	auth.RouteKey(http.MethodGet, "/v1/dlq"):                          {Permission: api.PermDLQRead},
	auth.RouteKey(http.MethodGet, "/v1/dlq/task/{task_uuid}"):         {Permission: api.PermDLQRead},
	auth.RouteKey(http.MethodPatch, "/v1/dlq/entry/{dlq_entry_uuid}"): {Permission: api.PermDLQUpdate},
	auth.RouteKey(http.MethodGet, "/v1/dlq/stats"):                    {Permission: api.PermDLQStats},
	auth.RouteKey(http.MethodGet, "/v1/dlq/staleness"):                {Permission: api.PermDLQRead},
	auth.RouteKey(http.MethodGet, "/v1/dlq/investigation-queue"):      {Permission: api.PermDLQRead},

	auth.RouteKey(http.MethodGet, "/v1/analytics/performance"): {Permission: api.PermSystemAnalyticsRead},
	auth.RouteKey(http.MethodGet, "/v1/analytics/bottlenecks"): {Permission: api.PermSystemAnalyticsRead},
	auth.RouteKey(http.MethodGet, "/v1/analytics/overview"):    {Permission: api.PermSystemAnalyticsRead},
	// Any credential may ask what it grants.
	auth.RouteKey(http.MethodGet, "/v1/auth/whoami"): {AnyCredential: true},
	auth.RouteKey(http.MethodGet, "/config"):         {Permission: api.PermSystemConfigRead},

	auth.RouteKey(http.MethodGet, "/health"):          {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/live"):     {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/ready"):    {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/detailed"): {Permission: api.PermSystemRead},
	auth.RouteKey(http.MethodGet, "/metrics"):         {Permission: api.PermSystemRead, Public: config.EndpointsMetrics},

	auth.RouteKey(http.MethodGet, "/api-docs/openapi.json"):     {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
	auth.RouteKey(http.MethodGet, "/api-docs/openapi.yaml"):     {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
	auth.RouteKey(http.MethodGet, "/api-docs/openapi-3.0.json"): {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
	auth.RouteKey(http.MethodGet, "/api-docs/openapi-3.0.yaml"): {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
	auth.RouteKey(http.MethodGet, "/api-docs/ui"):               {Permission: api.PermSystemRead, Public: config.EndpointsDocs},

	// The dashboard's static files hold no data (the pages call the API
	// with the user's credential), so they are open with the docs.
	auth.RouteKey(http.MethodGet, "/ui"):   {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
	auth.RouteKey(http.MethodGet, "/ui/*"): {Permission: api.PermSystemRead, Public: config.EndpointsDocs},
}
