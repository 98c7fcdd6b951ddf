package worker

import (
	"net/http"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// routePermissions declares the permission of every route of the worker
// API: THE place to add a route's permission. A route missing here is
// refused to every caller when worker.web.auth is on, and
// TestEveryWorkerRouteDeclaresAPermission fails.
var routePermissions = auth.Routes{
	auth.RouteKey(http.MethodGet, "/health"):          {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/live"):     {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/ready"):    {Permission: api.PermSystemRead, Public: config.EndpointsHealth},
	auth.RouteKey(http.MethodGet, "/health/detailed"): {Permission: api.PermSystemRead},
	auth.RouteKey(http.MethodGet, "/metrics"):         {Permission: api.PermSystemRead, Public: config.EndpointsMetrics},
	auth.RouteKey(http.MethodGet, "/metrics/worker"):  {Permission: api.PermSystemRead, Public: config.EndpointsMetrics},
	auth.RouteKey(http.MethodGet, "/metrics/events"):  {Permission: api.PermSystemRead, Public: config.EndpointsMetrics},
	auth.RouteKey(http.MethodGet, "/config"):          {Permission: api.PermWorkerConfigRead},

	auth.RouteKey(http.MethodGet, "/v1/templates"):                              {Permission: api.PermWorkerTemplatesRead},
	auth.RouteKey(http.MethodGet, "/v1/templates/{namespace}/{name}/{version}"): {Permission: api.PermWorkerTemplatesRead},
	auth.RouteKey(http.MethodPost, "/v1/templates/{namespace}/{name}/{version}/validate"): {
		Permission: api.PermTemplatesValidate},
}
