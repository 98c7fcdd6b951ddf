package config

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

// defaultOverridesSource names LoadOptions.Overrides in messages when
// OverridesSource is empty.
const defaultOverridesSource = "overrides"

// applyLayer applies LoadOptions.Overrides after the environment. The layer
// is checked against the schema like a file (unknown keys, wrong types and
// other contexts' sections are problems naming source); the values that
// pass replace those of every earlier layer, key by key.
func (s *loadState) applyLayer(m map[string]any, source string) {
	if len(m) == 0 {
		return
	}
	if source == "" {
		source = defaultOverridesSource
	}
	layer, _ := normalizeLayerValue(m).(map[string]any)
	check := &decoder{context: s.context, source: func(string) string { return source }}
	check.decodeRoot(layer, builtin(s.context))
	s.problems = append(s.problems, check.problems...)
	check.drop()
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			path := append(append([]string(nil), prefix...), k)
			if sub, ok := m[k].(map[string]any); ok {
				walk(path, sub)
				continue
			}
			s.set(path, m[k], source)
		}
	}
	walk(nil, layer)
}

// normalizeLayerValue turns values as Go code or encoding/json writes them
// into what the TOML decoder produces, so that one check serves both:
// integral numbers become int64, other numbers float64, string slices
// []any, durations their string form. Anything else is kept, and the
// schema check names its type.
func normalizeLayerValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = normalizeLayerValue(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalizeLayerValue(val)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = val
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalizeLayerValue(val)
		}
		return out
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return normalizeLayerValue(f)
		}
		return x.String()
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case float32:
		return normalizeLayerValue(float64(x))
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case time.Duration:
		return x.String()
	}
	return v
}
