package web

import (
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/shared/auth"
)

// OpenAPI security scheme names.
const (
	schemeBearer = "bearerAuth"
	schemeAPIKey = "apiKeyAuth"
	schemeQuery  = "accessTokenQuery"
)

// securityDescription ends the OpenAPI document's description.
const securityDescription = "When authentication is on (orchestration.web.auth.enabled), every operation needs a " +
	"JWT bearer token or an API key granting the permission named in its x-tasker-permission; a missing or bad " +
	"credential gets 401 UNAUTHORIZED, one without the permission 403 FORBIDDEN. See docs/security.md."

// securitySchemes are the credentials the API takes.
func (s *Server) securitySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		schemeBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "A JWT signed with RS256 or ES256 whose permissions claim grants the operation's permission."},
		schemeAPIKey: {Type: "apiKey", In: "header", Name: s.cfg.Auth.APIKeyHeader,
			Description: "An API key configured (as its hash) in orchestration.web.auth.api_keys."},
		schemeQuery: {Type: "apiKey", In: "query", Name: auth.QueryTokenParam,
			Description: "A JWT in the query string, for browsers' EventSource (event streams only)."},
	}
}

// secure documents an operation's permission and security requirements
// from routePermissions, and returns the error statuses it adds (401 and
// 403 unless the route is public).
func (s *Server) secure(op *huma.Operation) []int {
	rule, ok := routePermissions[auth.RouteKey(op.Method, op.Path)]
	if !ok {
		return nil // refused to everyone when auth is on; TestEveryRouteDeclaresAPermission fails
	}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-tasker-permission"] = rule.Permission
	if rule.AnyCredential {
		op.Extensions["x-tasker-permission"] = anyCredential
	}
	if rule.Public != "" && slices.Contains(s.cfg.Auth.PublicEndpoints, rule.Public) {
		op.Security = []map[string][]string{} // open (orchestration.web.auth.public_endpoints)
		return nil
	}
	need := []string{rule.Permission}
	if rule.AnyCredential {
		need = []string{}
	}
	op.Security = []map[string][]string{{schemeBearer: need}, {schemeAPIKey: need}}
	if rule.QueryToken != "" && slices.Contains(s.cfg.Auth.QueryTokenEndpoints, rule.QueryToken) {
		op.Security = append(op.Security, map[string][]string{schemeQuery: need})
	}
	return []int{http.StatusUnauthorized, http.StatusForbidden}
}

// anyCredential is the x-tasker-permission of a route open to every valid
// credential.
const anyCredential = "any valid credential" //nolint:gosec // a description, not a credential

// writeAuthError answers a refused request in the envelope.
func writeAuthError(w http.ResponseWriter, status int, code, message string) {
	writeError(w, newError(status, code, "%s", message))
}
