package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/tasker-go/tasker/shared/auth"
)

// RoutePermissions exposes the permission table to the tests.
func RoutePermissions() auth.Routes { return routePermissions }

// Router exposes the router to the tests.
func (s *Server) Router() chi.Routes { return s.router }
