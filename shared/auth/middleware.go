package auth

import (
	"context"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/tasker-go/tasker/api"
)

// Rule is what one route requires.
type Rule struct {
	// Permission is the permission a credential must grant.
	Permission string
	// AnyCredential opens the route to every valid credential, whatever
	// it grants (Permission is then empty): for routes that tell a caller
	// about its own credential.
	AnyCredential bool
	// Public, when set, names the endpoint group (config.EndpointsHealth,
	// …) whose listing in public_endpoints opens the route to everyone;
	// otherwise it needs Permission like any other.
	Public string
	// QueryToken, when set, names the endpoint group whose listing in
	// query_token_endpoints lets the route take a JWT in the access_token
	// query parameter.
	QueryToken string
}

// Routes declares every route's rule, keyed by RouteKey(method, pattern)
// with chi's route patterns ("GET /v1/tasks/{uuid}").
type Routes map[string]Rule

// RouteKey is the key of a route in Routes.
func RouteKey(method, pattern string) string { return method + " " + pattern }

// Undeclared lists the routes of router that have no rule in routes, as
// RouteKeys, sorted. Tests assert it is empty, so that a route cannot be
// added without declaring its permission.
func Undeclared(router chi.Routes, routes Routes) []string {
	var out []string
	_ = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if _, ok := routes[RouteKey(method, route)]; !ok {
			out = append(out, RouteKey(method, route))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// ErrorWriter writes an error answer in the API's envelope.
type ErrorWriter func(w http.ResponseWriter, status int, code, message string)

// Unauthenticated is the message of every 401: it says nothing about what
// was wrong with the credential.
const Unauthenticated = "authentication required: send a valid bearer token or API key"

// Middleware authenticates and authorizes every request before it reaches
// router's handlers: it finds the request's route in router, looks its
// rule up in routes, and answers 401 (no valid credential) or 403 (the
// credential lacks the rule's permission, or the route has no rule)
// through write. Requests that match no route need a valid credential
// too, then go on (to a 404 or 405). With authentication disabled it
// passes every request through.
func (a *Authenticator) Middleware(router chi.Routes, routes Routes, write ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if !a.cfg.Enabled {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path := r.URL.RawPath
			if path == "" {
				path = r.URL.Path
			}
			pattern := router.Find(chi.NewRouteContext(), r.Method, path)
			route := pattern
			if route == "" {
				route = "unmatched"
			}
			rule, declared := routes[RouteKey(r.Method, pattern)]
			if declared && rule.Public != "" && a.public[rule.Public] {
				next.ServeHTTP(w, r)
				return
			}
			p, reason, subject := a.Authenticate(r, declared && rule.QueryToken != "" && a.query[rule.QueryToken])
			if reason != "" {
				a.refuse(r, route, reason, subject)
				w.Header().Set("WWW-Authenticate", `Bearer realm="tasker"`)
				write(w, http.StatusUnauthorized, api.CodeUnauthorized, Unauthenticated)
				return
			}
			switch {
			case pattern != "" && !declared:
				a.log.Error("auth: the route declares no permission; refusing every caller", "route", RouteKey(r.Method, pattern))
				a.refuse(r, route, ReasonUndeclaredRoute, p.Subject)
				write(w, http.StatusForbidden, api.CodeForbidden, "this route is not open to any credential")
				return
			case declared && !rule.AnyCredential && !p.Allows(rule.Permission):
				a.refuse(r, route, ReasonForbidden, p.Subject)
				write(w, http.StatusForbidden, api.CodeForbidden,
					"the credential does not grant the permission this route requires ("+rule.Permission+")")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		})
	}
}

// refuse counts and logs a refused request. The log has no credential,
// only the subject (a verified token's sub, or an API key's name) when
// known, and never the query string, which may carry a token. It records
// the route in chi's route context, which routing would have filled, so
// that request metrics count the refusal under its route.
func (a *Authenticator) refuse(r *http.Request, route, reason, subject string) {
	if rc := chi.RouteContext(r.Context()); rc != nil && len(rc.RoutePatterns) == 0 && route != "unmatched" {
		rc.RoutePatterns = append(rc.RoutePatterns, route)
	}
	a.onFailure(route, reason)
	attrs := []any{"reason", reason, "method", r.Method, "path", r.URL.Path, "route", route, "remote", r.RemoteAddr}
	if subject != "" {
		attrs = append(attrs, "subject", subject)
	}
	if reason == ReasonForbidden || reason == ReasonUndeclaredRoute {
		a.log.Warn("auth: request refused (403)", attrs...)
		return
	}
	a.log.Info("auth: request refused (401)", attrs...)
}
