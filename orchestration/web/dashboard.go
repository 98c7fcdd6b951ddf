package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// dashboardFiles is the web dashboard: static HTML, CSS and JavaScript
// that talk to the public REST API and the task event stream only, so the
// files themselves hold no data and are served like the API docs.
//
//go:embed ui
var dashboardFiles embed.FS

// DashboardPath is where the dashboard is served.
const DashboardPath = "/ui/"

// dashboardRoutes serves the dashboard under /ui/ (and redirects /ui).
func (s *Server) dashboardRoutes() {
	sub, err := fs.Sub(dashboardFiles, "ui")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	files := http.StripPrefix(DashboardPath, http.FileServerFS(sub))
	s.router.Get("/ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, DashboardPath, http.StatusMovedPermanently)
	})
	s.router.Get("/ui/*", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The pages load nothing from elsewhere; the policy keeps it so.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
