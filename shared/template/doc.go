// Package template parses, validates and renders task templates: the YAML
// files that name a DAG of steps, each with a handler, in tasker-core's
// format (docs/templates.md).
//
// Parse, ParseFile and LoadPaths decode YAML (or JSON, which is YAML) into
// [Template] values. Decoding is strict: a key the format does not know is an
// error naming the file, the line and the key. Every error carries the file
// and line it comes from, including the errors [Template.Validate] finds after
// decoding, because the parser records the source line of every field path
// (for example "steps[2].retry.max_attempts").
//
// Defaults are applied while decoding, so a parsed template is complete and
// its JSON form (json.Marshal of a *Template) is what gets stored and served:
//
//   - step type: standard; handler method: "call"
//   - retry: retryable true, max_attempts 3, backoff exponential,
//     backoff_base_ms 1000 (DefaultBackoffBaseMs), max_backoff_ms 30000
//     (DefaultMaxBackoffMs), jitter true. When only one of the two delays is
//     given the other default bends to keep base <= max: a lone
//     backoff_base_ms above 30000 raises the max to it, a lone max_backoff_ms
//     below 1000 lowers the base to it. The legacy Ruby keys initial_delay and
//     max_delay (seconds) stand in for the _ms keys when those are absent.
//   - publishes_events: condition success, delivery_mode durable
//   - batch_config: batch_size 1000, parallelism 10, cursor_field "id",
//     failure_strategy continue_on_failure
//   - system_dependencies.primary: "default"
//   - identity_strategy: empty, which means strict
//
// ParseOptions.Environment deep-merges the template's environments.<env>
// overrides into its steps, matched by name (the name ALL matches every
// step), before defaults are applied: maps merge key by key (so
// handler.initialization gains keys), scalars and lists replace.
//
// Templates are read-only once parsed: the graph helpers (Roots,
// TopologicalOrder, InitialSteps, Mermaid) and the input-schema helpers are
// safe for concurrent use.
package template
