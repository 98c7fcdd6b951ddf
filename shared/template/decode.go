package template

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Known keys. Anything else is an error naming the key and its line.
var (
	templateKeys = []string{
		"name", "namespace_name", "version", "description", "metadata",
		"system_dependencies", "domain_events", "input_schema", "steps",
		"environments", "lifecycle", "identity_strategy",
	}
	stepKeys = []string{
		"name", "description", "handler", "type", "step_type", "dependencies",
		"depends_on", "retry", "timeout_seconds", "system_dependency",
		"publishes_events", "batch_config", "result_schema", "composition",
		"lifecycle",
	}
	handlerKeys     = []string{"callable", "method", "resolver", "initialization"}
	retryKeys       = []string{"retryable", "max_attempts", "backoff", "backoff_base_ms", "max_backoff_ms", "jitter", "initial_delay", "max_delay"}
	eventKeys       = []string{"name", "description", "condition", "schema", "delivery_mode", "publisher"}
	domainEventKeys = []string{"name", "description", "schema"}
	batchKeys       = []string{"batch_size", "parallelism", "cursor_field", "worker_template", "failure_strategy"}
	lifecycleKeys   = []string{
		"max_duration_minutes", "max_waiting_for_dependencies_minutes",
		"max_waiting_for_retry_minutes", "max_steps_in_process_minutes",
		"staleness_action", "auto_fail_on_timeout", "auto_dlq_on_timeout",
	}
	systemDependencyKeys = []string{"primary", "secondary"}
)

// decoder builds typed values from a decoded YAML document (maps, lists and
// scalars), recording an *Error with the source line for every value of the
// wrong shape or unknown key.
type decoder struct {
	src  *source
	errs ValidationErrors
}

func (d *decoder) add(path, msg string) {
	d.errs = append(d.errs, &Error{File: d.src.file, Line: d.src.line(path), Field: path, Message: msg})
}

// normalize converts a decoded YAML value into plain JSON-compatible values:
// map[string]any, []any, string, bool, int64, uint64 (above MaxInt64),
// finite float64 and nil. It always returns fresh maps and lists, so values
// shared through YAML aliases are never aliased in the result.
//
// A NUL character in a string or a key is an error: PostgreSQL can store it
// neither in text nor in jsonb, so the template could not be registered.
func (d *decoder) normalize(v any, path string) any {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			d.add(path, nulMessage)
		}
		return v
	case nil, bool, int64:
		return v
	case int:
		return int64(v)
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.add(path, "must be a finite number")
			return nil
		}
		return v
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			d.checkKey(k, path)
			out[k] = d.normalize(x, field(path, k))
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			ks := fmt.Sprint(k)
			d.checkKey(ks, path)
			out[ks] = d.normalize(x, field(path, ks))
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = d.normalize(x, index(path, i))
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return d.normalize(rv.Uint(), path)
	case reflect.Float32, reflect.Float64:
		return d.normalize(rv.Float(), path)
	case reflect.String:
		return rv.String()
	}
	d.add(path, fmt.Sprintf("unsupported YAML value of type %T", v))
	return nil
}

// nulMessage explains why a NUL character is refused.
const nulMessage = "contains a NUL character (\\u0000), which PostgreSQL cannot store"

// checkKey reports a mapping key holding a NUL character.
func (d *decoder) checkKey(k, path string) {
	if strings.IndexByte(k, 0) >= 0 {
		d.errs = append(d.errs, &Error{File: d.src.file, Line: d.src.line(field(path, k)), Field: path,
			Message: fmt.Sprintf("key %q %s", k, nulMessage)})
	}
}

// keys reports every key of m that is not in known, sorted, each at its own
// line.
func (d *decoder) keys(m map[string]any, path string, known []string) {
	var unknown []string
	for k := range m {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		msg := fmt.Sprintf("unknown key %q", k)
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.errs = append(d.errs, &Error{File: d.src.file, Line: d.src.line(field(path, k)), Field: path, Message: msg})
	}
}

// object returns v as a mapping; nil when v is null or not a mapping (the
// latter is reported).
func (d *decoder) object(v any, path string) map[string]any {
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return v
	}
	d.add(path, "must be a mapping")
	return nil
}

// list returns v as a list; nil when v is null or not a list (reported).
func (d *decoder) list(v any, path string) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	d.add(path, "must be a list")
	return nil
}

// scalarText is the text of a scalar as written in the YAML source when it is
// not a string (so "version: 1.0" reads "1.0", not "1").
func (d *decoder) scalarText(v any, path string) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool, int64, uint64, float64:
		if txt, ok := d.src.texts[path]; ok {
			return txt, true
		}
		return fmt.Sprint(v), true
	}
	return "", false
}

// str reads an optional string m[key]; scalars of other types are taken as
// written.
func (d *decoder) str(m map[string]any, path, key string) string {
	p := field(path, key)
	v := m[key]
	if v == nil {
		return ""
	}
	s, ok := d.scalarText(v, p)
	if !ok {
		d.add(p, "must be a string")
	}
	return s
}

// integer reads an optional integer m[key]; ok is false when absent, null or
// wrong (reported).
func (d *decoder) integer(m map[string]any, path, key string) (n int, ok bool) {
	p := field(path, key)
	switch v := m[key].(type) {
	case nil:
		return 0, false
	case int64:
		if int64(int(v)) == v {
			return int(v), true
		}
	case uint64:
	case float64:
		d.add(p, "must be an integer")
		return 0, false
	default:
		d.add(p, "must be an integer")
		return 0, false
	}
	d.add(p, "is out of range")
	return 0, false
}

// number reads an optional number m[key].
func (d *decoder) number(m map[string]any, path, key string) (float64, bool) {
	switch v := m[key].(type) {
	case nil:
		return 0, false
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	d.add(field(path, key), "must be a number")
	return 0, false
}

// boolean reads an optional boolean m[key].
func (d *decoder) boolean(m map[string]any, path, key string) (b, ok bool) {
	switch v := m[key].(type) {
	case nil:
		return false, false
	case bool:
		return v, true
	}
	d.add(field(path, key), "must be true or false")
	return false, false
}

// strings reads an optional list of strings m[key].
func (d *decoder) strings(m map[string]any, path, key string) []string {
	p := field(path, key)
	items := d.list(m[key], p)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, ok := d.scalarText(it, index(p, i))
		if !ok {
			d.add(index(p, i), "must be a string")
			continue
		}
		out = append(out, s)
	}
	return out
}

// raw reads an optional value m[key] as JSON.
func (d *decoder) raw(m map[string]any, path, key string) json.RawMessage {
	v := m[key]
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		d.add(field(path, key), "cannot be represented as JSON: "+err.Error())
		return nil
	}
	return b
}

// alias reads whichever of key and aliasKey is set, reporting both being set.
// It returns the value and the key it came from.
func (d *decoder) alias(m map[string]any, path, key, aliasKey string) (any, string) {
	v, av := m[key], m[aliasKey]
	switch {
	case av == nil:
		return v, key
	case v != nil:
		d.add(field(path, aliasKey), fmt.Sprintf("%q and %q are the same field; set only one", aliasKey, key))
		return v, key
	}
	// Errors about the field name the canonical key but the alias's line.
	if l, ok := d.src.lines[field(path, aliasKey)]; ok {
		d.src.lines[field(path, key)] = l
	}
	if t, ok := d.src.texts[field(path, aliasKey)]; ok {
		d.src.texts[field(path, key)] = t
	}
	return av, aliasKey
}

// suggest returns the known key closest to k when it is a likely typo.
func suggest(k string, known []string) string {
	if len(k) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, c := range known {
		if dist := editDistance(k, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
