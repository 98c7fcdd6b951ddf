package config

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// kind is the TOML-level type of a configuration key.
type kind int

const (
	kindTable kind = iota
	kindString
	kindBool
	kindInt
	kindFloat
	kindDuration
	kindStringList
	kindTableList
)

// String names the kind as error messages do ("expected a duration …").
func (k kind) String() string {
	switch k {
	case kindTable:
		return "a table"
	case kindString:
		return "a string"
	case kindBool:
		return "a boolean (true or false)"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	case kindDuration:
		return `a duration string such as "30s", "250ms" or "5m"`
	case kindStringList:
		return "an array of strings"
	case kindTableList:
		return "an array of tables"
	}
	return "a value"
}

// field is one key of the configuration schema, derived from the toml tags
// of Config and the types it contains.
type field struct {
	key    string // TOML key, e.g. "max_connections"
	index  int    // struct field index
	kind   kind   // what the value must be
	ptr    bool   // a *struct table (the context sections)
	typ    reflect.Type
	fields []*field // the keys of a table (or of each table of a table list), in declaration order
}

// child returns the key of a table named name, or nil.
func (f *field) child(name string) *field {
	for _, c := range f.fields {
		if c.key == name {
			return c
		}
	}
	return nil
}

// childKeys lists the keys of a table.
func (f *field) childKeys() []string {
	keys := make([]string, len(f.fields))
	for i, c := range f.fields {
		keys[i] = c.key
	}
	return keys
}

var durationType = reflect.TypeFor[time.Duration]()

// schema is the root table, built once from Config.
var schema = sync.OnceValue(func() *field {
	return buildTable(reflect.TypeFor[Config]())
})

func buildTable(t reflect.Type) *field {
	table := &field{kind: kindTable, typ: t}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		table.fields = append(table.fields, buildField(name, i, sf.Type))
	}
	return table
}

func buildField(name string, index int, t reflect.Type) *field {
	f := &field{key: name, index: index, typ: t}
	switch {
	case t == durationType:
		f.kind = kindDuration
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		sub := buildTable(t.Elem())
		f.kind, f.ptr, f.fields = kindTable, true, sub.fields
	case t.Kind() == reflect.Struct:
		f.kind, f.fields = kindTable, buildTable(t).fields
	case t.Kind() == reflect.String:
		f.kind = kindString
	case t.Kind() == reflect.Bool:
		f.kind = kindBool
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		f.kind = kindInt
	case t.Kind() == reflect.Float64:
		f.kind = kindFloat
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		f.kind = kindStringList
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		f.kind, f.fields = kindTableList, buildTable(t.Elem()).fields
	default:
		panic("config: unsupported field type " + t.String() + " for key " + name)
	}
	return f
}

// sectionAllowed reports whether a top-level section may appear for a
// context.
func sectionAllowed(section, context string) bool {
	owner, ok := sectionContext[section]
	return !ok || owner == context
}

// Keys lists every leaf key of the configuration for a context, in
// declaration order, as dotted paths ("database.pool.max_connections").
func Keys(context string) []string {
	var out []string
	var walk func(prefix string, f *field)
	walk = func(prefix string, f *field) {
		for _, c := range f.fields {
			path := joinKey(prefix, c.key)
			if prefix == "" && !sectionAllowed(c.key, context) {
				continue
			}
			if c.kind == kindTable {
				walk(path, c)
				continue
			}
			out = append(out, path)
		}
	}
	walk("", schema())
	return out
}

// removedKeys are keys that earlier versions accepted, each with a note
// saying what replaced it. They are unknown keys like any other: a file or
// override that still sets one fails to load, and the note says why.
var removedKeys = map[string]string{
	"backoff.strategy":   removedBackoffNote,
	"backoff.base":       removedBackoffNote,
	"backoff.max":        removedBackoffNote,
	"backoff.multiplier": removedBackoffNote,
}

const removedBackoffNote = "removed: it was never used; a step's backoff shape, base and cap come from " +
	"its template's retry block (backoff, backoff_base_ms, max_backoff_ms)"

// suggest returns a "did you mean" hint for an unknown key among the keys
// of its table, or "".
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
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

// sortedKeys returns the keys of m in order, for deterministic messages.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
