package worker

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/template"
)

func (c *Core) handleTemplates(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	reg := c.registered()
	body := api.WorkerTemplateListResponse{Templates: []api.WorkerTemplateSummary{}, Namespaces: namespacesOf(nil, reg.templates),
		TemplateCount: len(reg.templates), WorkerCapabilities: c.capabilities(reg.templates)}
	if body.Namespaces == nil {
		body.Namespaces = []string{}
	}
	body.SupportedNamespaces = body.Namespaces
	for _, t := range reg.templates {
		if ns != "" && t.NamespaceName != ns {
			continue
		}
		s := api.WorkerTemplateSummary{Namespace: t.NamespaceName, Name: t.Name, Version: t.Version,
			Description: t.Description, StepCount: len(t.Steps), Steps: []string{}, Handlers: []string{}}
		for _, st := range t.Steps {
			s.Steps = append(s.Steps, st.Name)
			s.Handlers = append(s.Handlers, st.Handler.Callable)
		}
		body.Templates = append(body.Templates, s)
	}
	body.TotalCount = len(body.Templates)
	writeJSON(w, http.StatusOK, body)
}

// capabilities lists the callables this worker runs: its Go handlers, and
// with a fallback executor (Ruby, Python, TypeScript) the other callables
// of its templates.
func (c *Core) capabilities(tpls []*template.Template) []string {
	out := c.opts.Registry.Callables()
	if c.opts.Fallback != nil {
		for _, t := range tpls {
			for _, s := range t.Steps {
				out = append(out, s.Handler.Callable)
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// lookupTemplate finds a registered template by the route's namespace,
// name and version, or answers 404.
func (c *Core) lookupTemplate(w http.ResponseWriter, r *http.Request) *template.Template {
	key := chi.URLParam(r, "namespace") + "/" + chi.URLParam(r, "name") + "/" + chi.URLParam(r, "version")
	if t := c.registered().byKey[key]; t != nil {
		return t
	}
	for _, t := range c.registered().templates {
		if t.Key() == key {
			return t
		}
	}
	writeError(w, http.StatusNotFound, "NOT_FOUND", "template "+key+" is not registered by this worker")
	return nil
}

// handleTemplate answers the template's own fields at the top level (as
// before) together with tasker-core's template, handler_metadata and
// cached.
func (c *Core) handleTemplate(w http.ResponseWriter, r *http.Request) {
	t := c.lookupTemplate(w, r)
	if t == nil {
		return
	}
	raw, err := json.Marshal(t)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "encoding the template failed")
		return
	}
	env := c.opts.Environment
	if env == "" {
		env = "unknown"
	}
	at := c.registered().at
	meta := api.HandlerMetadata{Namespace: t.NamespaceName, Name: t.Name, Version: t.Version,
		ConfigSchema: json.RawMessage("null"), RegisteredAt: at}
	if len(t.Steps) > 0 {
		meta.HandlerClass = t.Steps[0].Handler.Callable
	}
	if len(t.InputSchema) > 0 {
		meta.ConfigSchema = t.InputSchema
	}
	if p := t.SystemDependencies.Primary; p != "" {
		meta.DefaultDependentSystem = &p
	}
	extra := api.WorkerTemplateResponse{Template: api.ResolvedTemplate{Template: raw, Environment: env, ResolvedAt: at},
		HandlerMetadata: meta}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "encoding the template failed")
		return
	}
	extraRaw, _ := json.Marshal(extra)
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(extraRaw, &fields) // just marshalled from a struct
	for k, v := range fields {
		body[k] = v
	}
	writeJSON(w, http.StatusOK, body)
}

// handleValidateTemplate tells whether this worker can run every step of
// a registered template: each callable needs a Go handler, or the fallback
// executor (which takes every other callable).
func (c *Core) handleValidateTemplate(w http.ResponseWriter, r *http.Request) {
	t := c.lookupTemplate(w, r)
	if t == nil {
		return
	}
	out := api.TemplateValidationResponse{Errors: []string{}, RequiredCapabilities: []string{}, StepHandlers: []string{}}
	for _, s := range t.Steps {
		out.StepHandlers = append(out.StepHandlers, s.Handler.Callable)
		out.RequiredCapabilities = append(out.RequiredCapabilities, string(s.Type))
		if _, ok := c.opts.Registry.Lookup(s.Handler.Callable); !ok && c.opts.Fallback == nil {
			out.Errors = append(out.Errors, "step "+s.Name+": no handler for "+s.Handler.Callable)
		}
	}
	slices.Sort(out.RequiredCapabilities)
	out.RequiredCapabilities = slices.Compact(out.RequiredCapabilities)
	out.Valid = len(out.Errors) == 0
	writeJSON(w, http.StatusOK, out)
}

func (c *Core) handleConfig(w http.ResponseWriter, _ *http.Request) {
	settings := c.opts.Settings
	if settings == nil {
		wc := c.cfg
		settings = &config.Config{Context: config.ContextWorker, Env: c.opts.Environment, Templates: c.opts.Templates, Worker: &wc}
	}
	red := settings.Redacted()
	raw, err := json.Marshal(red)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "encoding the configuration failed")
		return
	}
	env := settings.Env
	if env == "" {
		env = "unknown"
	}
	queues := append(queuesOf(c.Namespaces()), messaging.StepResultsQueue)
	backend := string(red.Queues.Backend)
	if backend == "" {
		backend = "unknown"
	}
	writeJSON(w, http.StatusOK, api.WorkerConfigResponse{
		Metadata: api.ConfigMetadata{Timestamp: time.Now().UTC(), Environment: env, Version: c.version()},
		WorkerID: c.cfg.WorkerID, WorkerType: c.workerType(), Auth: auth.SafeConfig(red.Worker.Web.Auth),
		Messaging: api.SafeMessagingConfig{Backend: backend, Queues: queues}, Config: raw,
	})
}

// handleWorkerMetrics answers every series of the worker's Prometheus
// registry as JSON, keyed by name and labels.
func (c *Core) handleWorkerMetrics(w http.ResponseWriter, _ *http.Request) {
	families, err := c.opts.Gatherer.Gather()
	if err != nil && len(families) == 0 {
		writeError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "gathering metrics failed")
		return
	}
	out := api.WorkerMetricsResponse{Metrics: map[string]api.MetricValue{}, Timestamp: time.Now().UTC(), WorkerID: c.cfg.WorkerID}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			key := f.GetName()
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
				if l.GetName() != "worker_id" {
					key += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
			}
			mv := api.MetricValue{MetricType: metricType(f.GetType()), Labels: labels, Help: f.GetHelp()}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				mv.Value = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				mv.Value = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				mv.Value = float64(m.GetHistogram().GetSampleCount())
				sum := mv
				sum.Value, sum.MetricType = m.GetHistogram().GetSampleSum(), "gauge"
				out.Metrics[f.GetName()+"_sum"+key[len(f.GetName()):]] = sum
			case dto.MetricType_SUMMARY:
				mv.Value = float64(m.GetSummary().GetSampleCount())
			default:
				mv.Value = m.GetUntyped().GetValue()
			}
			out.Metrics[key] = mv
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func metricType(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	}
	return "untyped"
}

// handleEventStats answers tasker-core's domain event statistics: the
// router counts are the events this worker's handlers published with their
// results, by delivery mode. Orchestration publishes them when it commits
// the results (and runs the in-process bus), so the bus counts here are
// zero; its metrics count per event name.
func (c *Core) handleEventStats(w http.ResponseWriter, _ *http.Request) {
	d, f, b := c.stats.eventsDurable.Load(), c.stats.eventsFast.Load(), c.stats.eventsBroadcast.Load()
	writeJSON(w, http.StatusOK, struct {
		api.DomainEventStats
		Publishing bool   `json:"publishing"`
		Note       string `json:"note"`
	}{api.DomainEventStats{CapturedAt: time.Now().UTC(), WorkerID: c.cfg.WorkerID,
		Router: api.EventRouterStats{TotalRouted: d + f + b, DurableRouted: d, FastRouted: f, BroadcastRouted: b}}, true,
		"router counts are events this worker's handlers published with their results; orchestration publishes " +
			"them when it commits the results (tasker_domain_events_published_total on its /metrics)"})
}
