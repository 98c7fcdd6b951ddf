package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TaskerCoreTranslation is a tasker-core configuration file (the one merged
// TOML file its services read from TASKER_CONFIG_PATH) turned into a layer
// of this configuration.
type TaskerCoreTranslation struct {
	// Layer holds the settings that mean the same thing here, keyed as in
	// this configuration's TOML files (see LoadOptions.Overrides).
	Layer map[string]any
	// Mapped lists "their.key → our.key" for each translated setting.
	Mapped []string
	// Ignored lists "their.key: why" for each setting that tunes a part of
	// tasker-core this engine does not have; it changes nothing here.
	Ignored []string
}

// coreMapping translates one tasker-core key.
type coreMapping struct {
	ours    string
	convert func(v any) (any, error)
}

// TaskerCoreKeys maps tasker-core keys to ours (for `tasker config explain`
// and docs/migrating.md); the values are our keys.
func TaskerCoreKeys() map[string]string {
	out := make(map[string]string, len(coreMappings))
	for k, m := range coreMappings {
		out[k] = m.ours
	}
	return out
}

func same(v any) (any, error) { return v, nil }

func unit(d time.Duration) func(v any) (any, error) {
	return func(v any) (any, error) {
		n, ok := toFloat(v)
		if !ok || n < 0 {
			return nil, fmt.Errorf("must be a non-negative number, got %s", describe(v))
		}
		return time.Duration(n * float64(d)).String(), nil
	}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func backendName(v any) (any, error) {
	s, _ := v.(string)
	switch s {
	case "pgmq", "postgres":
		return string(BackendPostgres), nil
	case "rabbitmq":
		return string(BackendRabbitMQ), nil
	}
	return nil, fmt.Errorf("%q is not a queue backend here: use pgmq (PostgreSQL queues) or rabbitmq", s)
}

// searchPath turns tasker-core's template globs into the directories they
// start from (search paths are searched recursively here).
func searchPath(v any) (any, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of paths, got %s", describe(v))
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings, got %s", describe(item))
		}
		if i := strings.IndexAny(s, "*?[{"); i >= 0 {
			s = strings.TrimRight(s[:i], "/")
			if j := strings.LastIndexByte(s, '/'); j >= 0 && i < len(s) {
				s = s[:j]
			}
		}
		if s == "" {
			s = "."
		}
		out = append(out, s)
	}
	return out, nil
}

var coreMappings = map[string]coreMapping{
	"common.database.url":                                                               {"database.url", same},
	"common.database.pool.max_connections":                                              {"database.pool.max_connections", same},
	"common.database.pool.min_connections":                                              {"database.pool.min_connections", same},
	"common.database.pool.acquire_timeout_seconds":                                      {"database.pool.acquire_timeout", unit(time.Second)},
	"common.database.pool.idle_timeout_seconds":                                         {"database.pool.idle_timeout", unit(time.Second)},
	"common.database.pool.max_lifetime_seconds":                                         {"database.pool.max_lifetime", unit(time.Second)},
	"common.queues.backend":                                                             {"queues.backend", backendName},
	"common.queues.default_visibility_timeout_seconds":                                  {"queues.visibility_timeout", unit(time.Second)},
	"common.queues.pgmq.poll_interval_ms":                                               {"queues.poll_interval", unit(time.Millisecond)},
	"common.queues.pgmq.queue_depth_thresholds.critical_threshold":                      {"queues.depth_thresholds.critical", same},
	"common.queues.pgmq.queue_depth_thresholds.overflow_threshold":                      {"queues.depth_thresholds.overflow", same},
	"common.queues.rabbitmq.url":                                                        {"queues.rabbitmq.url", same},
	"common.queues.rabbitmq.prefetch_count":                                             {"queues.rabbitmq.prefetch", same},
	"common.queues.rabbitmq.heartbeat_seconds":                                          {"queues.rabbitmq.heartbeat", unit(time.Second)},
	"common.backoff.jitter_enabled":                                                     {"backoff.jitter", same},
	"common.backoff.jitter_max_percentage":                                              {"backoff.jitter_max_fraction", same},
	"common.task_templates.search_paths":                                                {"templates.search_paths", searchPath},
	"orchestration.shutdown_timeout_ms":                                                 {"orchestration.shutdown_timeout", unit(time.Millisecond)},
	"orchestration.web.enabled":                                                         {"orchestration.web.enabled", same},
	"orchestration.web.bind_address":                                                    {"orchestration.web.bind_address", same},
	"orchestration.web.request_timeout_ms":                                              {"orchestration.web.request_timeout", unit(time.Millisecond)},
	"orchestration.dlq.staleness_detection.enabled":                                     {"orchestration.staleness.enabled", same},
	"orchestration.dlq.staleness_detection.detection_interval_seconds":                  {"orchestration.staleness.interval", unit(time.Second)},
	"orchestration.dlq.staleness_detection.batch_size":                                  {"orchestration.staleness.batch_size", same},
	"orchestration.dlq.staleness_detection.dry_run":                                     {"orchestration.staleness.dry_run", same},
	"orchestration.dlq.staleness_detection.thresholds.waiting_for_dependencies_minutes": {"orchestration.staleness.waiting_for_dependencies", unit(time.Minute)},
	"orchestration.dlq.staleness_detection.thresholds.waiting_for_retry_minutes":        {"orchestration.staleness.waiting_for_retry", unit(time.Minute)},
	"orchestration.dlq.staleness_detection.thresholds.steps_in_process_minutes":         {"orchestration.staleness.steps_in_process", unit(time.Minute)},
	"orchestration.dlq.staleness_detection.thresholds.task_max_lifetime_hours":          {"orchestration.staleness.task_max_lifetime", unit(time.Hour)},
	"worker.worker_id":                                                                  {"worker.worker_id", same},
	"worker.web.enabled":                                                                {"worker.web.enabled", same},
	"worker.web.bind_address":                                                           {"worker.web.bind_address", same},
	"worker.mpsc_channels.handler_dispatch.max_concurrent_handlers":                     {"worker.handlers.max_concurrent", same},
	"worker.mpsc_channels.handler_dispatch.handler_timeout_ms":                          {"worker.handlers.default_timeout", unit(time.Millisecond)},
}

// coreIgnored are the tasker-core sections and keys with no equivalent
// here, with why; the longest matching prefix explains a key.
var coreIgnored = map[string]string{
	"common.cache":                                                "there is no cache: templates are held in memory, analytics read the database",
	"common.circuit_breakers":                                     "there are no circuit breakers: an unavailable database answers 503 at once and loops back off",
	"common.mpsc_channels":                                        "there are no in-process channels",
	"common.execution":                                            "step enqueueing is one statement per batch of ready steps; the environment is TASKER_ENV",
	"common.system":                                               "no default dependent system",
	"common.pgmq_database.pool":                                   "queues share the database pool",
	"common.database.pool.slow_acquire_threshold_ms":              "acquire waits are reported as totals (pool.acquire_wait_ms_total in /health/detailed), not per slow acquire",
	"common.pgmq_database.enabled":                                "queues live in the tasks database",
	"common.queues.naming_pattern":                                "queue names are fixed: worker_<namespace>_queue and orchestration_*",
	"common.queues.orchestration_namespace":                       "queue names are fixed",
	"common.queues.worker_namespace":                              "queue names are fixed",
	"common.queues.orchestration_queues":                          "queue names are fixed",
	"common.backoff.default_backoff_seconds":                      "backoff is set per template step (retry.backoff, backoff_base_ms, max_backoff_ms)",
	"common.backoff.backoff_multiplier":                           "backoff is set per template step",
	"common.backoff.max_backoff_seconds":                          "backoff is capped per template step (retry.max_backoff_ms)",
	"common.backoff.reenqueue_delays":                             "a waiting task is re-examined when its steps change, not after a delay",
	"orchestration.mpsc_channels":                                 "there are no in-process channels",
	"orchestration.event_systems":                                 "orchestration always runs Hybrid: LISTEN/NOTIFY with polling loops as the fallback",
	"orchestration.grpc":                                          "there is no gRPC API; use the REST API",
	"orchestration.batch_processing":                              "batch steps are not run by this version (their templates are refused with 422)",
	"orchestration.decision_points":                               "decision steps are not run by this version (their templates are refused with 422)",
	"orchestration.enable_performance_logging":                    "timings are Prometheus metrics (/metrics)",
	"orchestration.dlq.enabled":                                   "the DLQ is always on; staleness_detection.enabled turns its loop off",
	"orchestration.dlq.staleness_detection.actions.emit_events":   "stale tasks are counted in metrics and logged",
	"orchestration.dlq.staleness_detection.actions.event_channel": "stale tasks are counted in metrics and logged",
	"orchestration.web.config_endpoint_enabled":                   "GET /config is always served (secrets redacted)",
	"orchestration.web.database_pools":                            "the API uses the process's database pool (database.pool)",
	"orchestration.web.auth":                                      "authentication is not configured here (only web.auth.enabled = false is accepted)",
	"orchestration.web.cors":                                      "CORS is left to the gateway in front of the API",
	"orchestration.web.resource_monitoring":                       "the pool is reported by /health/detailed",
	"worker.circuit_breakers":                                     "there are no circuit breakers",
	"worker.event_systems":                                        "workers always run Hybrid: queue wake-ups with polling as the fallback (worker.claims)",
	"worker.grpc":                                                 "there is no gRPC API",
	"worker.mpsc_channels":                                        "there are no in-process channels (handler concurrency is worker.handlers)",
	"worker.orchestration_client":                                 "workers talk to the database, not to the orchestration API",
	"worker.worker_type":                                          "the worker type is derived from the handlers it runs",
	"worker.web.auth":                                             "authentication is not configured here (only web.auth.enabled = false is accepted)",
	"worker.web.database_pools":                                   "the worker API uses the process's database pool",
	"worker.web.config_endpoint_enabled":                          "GET /config is always served (secrets redacted)",
	"worker.web.request_timeout_ms":                               "the worker API answers from memory and one ping",
	"worker.web.resource_monitoring":                              "the pool is reported by /health/detailed",
	"worker.web.cors":                                             "CORS is left to the gateway",
}

// TranslateTaskerCore reads a tasker-core configuration file (TOML) for
// one of this engine's contexts: common.* and the context's own section are
// translated, another context's section is skipped. ${VAR} and
// ${VAR:-default} are expanded from environ first, as tasker-core does. A
// setting this engine cannot honour is a problem naming the key and why
// (for example authentication switched on, a separate queue database, a
// DLQ without moving the task to error); a key tasker-core does not have
// is a problem too, with the nearest known key.
func TranslateTaskerCore(data []byte, source, context string, environ []string) (*TaskerCoreTranslation, error) {
	m, err := tomlParser{}.Unmarshal(data)
	if err != nil {
		return nil, Problems{{Source: source, Message: "malformed TOML: " + tomlErrorMessage(err)}}
	}
	env := environMap(environ)
	out := &TaskerCoreTranslation{Layer: map[string]any{}}
	var problems Problems
	bad := func(key, format string, args ...any) {
		problems = append(problems, Problem{Key: key, Source: source, Message: fmt.Sprintf(format, args...)})
	}
	flat := map[string]any{}
	for key := range leaves(m, "") {
		if strings.Contains(key, "._docs.") || strings.HasPrefix(key, "_docs.") {
			continue
		}
		flat[key] = lookupPath(m, key)
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	staleMove, staleError := true, true
	for _, key := range keys {
		v := flat[key]
		if s, ok := v.(string); ok {
			sub, err := expand(s, env)
			if err != nil {
				bad(key, "%v", err)
				continue
			}
			v = sub.value
		}
		section, _, _ := strings.Cut(key, ".")
		if section != "common" && section != context {
			continue
		}
		switch key {
		case "orchestration.web.auth.enabled", "worker.web.auth.enabled":
			if b, _ := v.(bool); b {
				bad(key, "authentication is not available in this version: run with web.auth.enabled = false behind a gateway that authenticates")
			} else {
				out.Ignored = append(out.Ignored, key+": authentication is off, as here")
			}
			continue
		case "common.pgmq_database.url":
			if s, _ := v.(string); s != "" {
				bad(key, "a separate queue database is not supported: queues live in the tasks database (leave common.pgmq_database.url empty)")
			}
			continue
		case "orchestration.dlq.staleness_detection.actions.auto_move_to_dlq":
			staleMove, _ = v.(bool)
			continue
		case "orchestration.dlq.staleness_detection.actions.auto_transition_to_error":
			staleError, _ = v.(bool)
			continue
		}
		if mp, ok := coreMappings[key]; ok {
			val, err := mp.convert(v)
			if err != nil {
				bad(key, "%v", err)
				continue
			}
			setPath(out.Layer, mp.ours, val)
			out.Mapped = append(out.Mapped, key+" → "+mp.ours)
			continue
		}
		if why, ok := ignoredReason(key); ok {
			out.Ignored = append(out.Ignored, key+": "+why)
			continue
		}
		hint := ""
		if near := suggest(key, knownCoreKeys()); near != "" {
			hint = " (did you mean " + near + "?)"
		}
		bad(key, "not a tasker-core setting this version knows%s", hint)
	}
	// tasker-core has no warning level: its critical threshold is where
	// warnings start here too.
	if v := lookupPath(out.Layer, "queues.depth_thresholds.critical"); v != nil {
		setPath(out.Layer, "queues.depth_thresholds.warning", v)
	}
	// tasker-core runs a fixed number of handlers: so does this worker.
	if v := lookupPath(out.Layer, "worker.handlers.max_concurrent"); v != nil {
		setPath(out.Layer, "worker.handlers.min_concurrent", v)
	}
	if context == ContextOrchestration {
		switch {
		case staleMove && staleError:
			setPath(out.Layer, "orchestration.staleness.action", string(StalenessDLQ))
		case !staleMove && staleError:
			setPath(out.Layer, "orchestration.staleness.action", string(StalenessError))
		case !staleMove && !staleError:
			setPath(out.Layer, "orchestration.staleness.action", string(StalenessNone))
		default:
			bad("orchestration.dlq.staleness_detection.actions", "moving a stale task to the DLQ without moving it to error is not supported: set auto_transition_to_error = true, or auto_move_to_dlq = false")
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

func ignoredReason(key string) (string, bool) {
	best := ""
	for prefix := range coreIgnored {
		if (key == prefix || strings.HasPrefix(key, prefix+".")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return "", false
	}
	return coreIgnored[best], true
}

func knownCoreKeys() []string {
	out := make([]string, 0, len(coreMappings)+len(coreIgnored))
	for k := range coreMappings {
		out = append(out, k)
	}
	for k := range coreIgnored {
		out = append(out, k)
	}
	return out
}

func lookupPath(m map[string]any, key string) any {
	var cur any = m
	for part := range strings.SplitSeq(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

func setPath(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}
