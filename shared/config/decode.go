package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// decoder writes a TOML-shaped map (as go-toml produces: map[string]any,
// []any, string, int64, float64, bool) into a Config, collecting problems
// instead of stopping at the first.
type decoder struct {
	// context limits the top-level sections that may appear.
	context string
	// source says where the value of a key came from.
	source func(key string) string
	// deferred leaves strings containing "${" unparsed (a file is checked
	// before substitution; its durations are parsed again after it).
	deferred bool
	problems Problems
	// rejected holds the map entries that had a problem, so a caller can
	// drop them and still use the rest.
	rejected []rejectedEntry
}

// rejectedEntry is a value of a decoded map that could not be used.
type rejectedEntry struct {
	table map[string]any
	name  string
}

// drop removes the rejected entries from the decoded map.
func (d *decoder) drop() {
	for _, r := range d.rejected {
		delete(r.table, r.name)
	}
}

func (d *decoder) add(key, message string) {
	d.problems = append(d.problems, Problem{Source: d.source(key), Key: key, Message: message})
}

func (d *decoder) unknown(key, message string) {
	d.problems = append(d.problems, Problem{Source: d.source(key), Key: key, Message: message, Unknown: true})
}

// decodeRoot decodes m into cfg, allocating the context's section.
func (d *decoder) decodeRoot(m map[string]any, cfg *Config) {
	d.table("", schema(), m, reflect.ValueOf(cfg).Elem())
}

func (d *decoder) table(prefix string, f *field, m map[string]any, v reflect.Value) {
	for _, name := range sortedKeys(m) {
		path := joinKey(prefix, name)
		c := f.child(name)
		before := len(d.problems)
		switch {
		case c == nil:
			msg := fmt.Sprintf("unknown key %q", path)
			if note, ok := removedKeys[path]; ok {
				msg += ": " + note
			} else if hint := suggest(name, f.childKeys()); hint != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", joinKey(prefix, hint))
			}
			d.unknown(path, msg)
		case prefix == "" && !sectionAllowed(name, d.context):
			d.unknown(path, fmt.Sprintf("unknown key %q: the [%s] section belongs in the %s files (%s/base.toml, %s/environments/<env>.toml)",
				path, name, sectionContext[name], sectionContext[name], sectionContext[name]))
		default:
			d.value(path, c, m[name], v.Field(c.index))
			if _, isMap := m[name].(map[string]any); isMap && c.kind == kindTable {
				continue // its own entries were rejected one by one
			}
		}
		if len(d.problems) > before {
			d.rejected = append(d.rejected, rejectedEntry{table: m, name: name})
		}
	}
}

func (d *decoder) value(path string, f *field, raw any, v reflect.Value) {
	switch f.kind {
	case kindTable:
		m, ok := raw.(map[string]any)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		if f.ptr {
			if v.IsNil() {
				v.Set(reflect.New(f.typ.Elem()))
			}
			v = v.Elem()
		}
		d.table(path, f, m, v)
	case kindString:
		s, ok := raw.(string)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		v.SetString(s)
	case kindBool:
		b, ok := raw.(bool)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		v.SetBool(b)
	case kindInt:
		n, ok := raw.(int64)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		if v.OverflowInt(n) {
			d.add(path, fmt.Sprintf("%d is too large", n))
			return
		}
		v.SetInt(n)
	case kindFloat:
		switch x := raw.(type) {
		case float64:
			v.SetFloat(x)
		case int64:
			v.SetFloat(float64(x))
		default:
			d.mismatch(path, f, raw)
		}
	case kindDuration:
		s, ok := raw.(string)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		if d.deferred && strings.Contains(s, "${") {
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.add(path, err.Error())
			return
		}
		v.SetInt(int64(dur))
	case kindStringList:
		list, ok := raw.([]any)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		out := make([]string, 0, len(list))
		for i, item := range list {
			s, ok := item.(string)
			if !ok {
				d.add(path, fmt.Sprintf("expected %s, but element %d is %s", f.kind, i+1, describe(item)))
				return
			}
			out = append(out, s)
		}
		v.Set(reflect.ValueOf(out).Convert(f.typ))
	case kindTableList:
		list, ok := raw.([]any)
		if !ok {
			d.mismatch(path, f, raw)
			return
		}
		out := reflect.MakeSlice(f.typ, len(list), len(list))
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				d.add(path, fmt.Sprintf("expected %s, but element %d is %s", f.kind, i+1, describe(item)))
				return
			}
			d.table(fmt.Sprintf("%s[%d]", path, i), f, m, out.Index(i))
		}
		v.Set(out)
	}
}

func (d *decoder) mismatch(path string, f *field, raw any) {
	msg := fmt.Sprintf("expected %s, got %s", f.kind, describe(raw))
	if s, ok := raw.(string); ok && strings.Contains(s, "${") && f.kind != kindTable {
		msg += "; ${…} substitution applies only to string, duration and string-list values"
	}
	d.add(path, msg)
}

// describe names a decoded TOML value for an error message.
func describe(raw any) string {
	switch x := raw.(type) {
	case string:
		return fmt.Sprintf("string %q", RedactSecrets(x))
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %g", x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", raw) // dates and times
}

// parseDuration parses a Go duration string with a message fit for users.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf(`invalid duration %q: want a number with a unit (ns, us, ms, s, m, h), e.g. "30s", "250ms", "1h30m"`, s)
	}
	return d, nil
}

// formatDuration writes a duration the way a person would: "5m" rather
// than "5m0s", "1h" rather than "1h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
