package config

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// entry is one key of an encoded table, kept in declaration order.
type entry struct {
	key   string
	value any     // string, int64, float64, bool, []string or [][]entry (a table list); nil for a table
	table []entry // the keys of a sub-table
}

func (e entry) isTable() bool { return e.value == nil }

// encodeTable turns a struct into ordered entries. Durations become
// strings; nil context sections are left out.
func encodeTable(f *field, v reflect.Value) []entry {
	out := make([]entry, 0, len(f.fields))
	for _, c := range f.fields {
		fv := v.Field(c.index)
		switch c.kind {
		case kindTable:
			if c.ptr {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			out = append(out, entry{key: c.key, table: encodeTable(c, fv)})
		case kindString:
			out = append(out, entry{key: c.key, value: fv.String()})
		case kindBool:
			out = append(out, entry{key: c.key, value: fv.Bool()})
		case kindInt:
			out = append(out, entry{key: c.key, value: fv.Int()})
		case kindFloat:
			out = append(out, entry{key: c.key, value: fv.Float()})
		case kindDuration:
			out = append(out, entry{key: c.key, value: formatDuration(time.Duration(fv.Int()))})
		case kindStringList:
			list := make([]string, fv.Len())
			for i := range list {
				list[i] = fv.Index(i).String()
			}
			out = append(out, entry{key: c.key, value: list})
		case kindTableList:
			tables := make([][]entry, fv.Len())
			for i := range tables {
				tables[i] = encodeTable(c, fv.Index(i))
			}
			out = append(out, entry{key: c.key, value: tables})
		}
	}
	return out
}

// toMap turns entries into the map shape go-toml produces when parsing, so
// that encoded defaults merge and decode like a file.
func toMap(entries []entry) map[string]any {
	m := make(map[string]any, len(entries))
	for _, e := range entries {
		switch v := e.value.(type) {
		case nil:
			m[e.key] = toMap(e.table)
		case []string:
			list := make([]any, len(v))
			for i, s := range v {
				list[i] = s
			}
			m[e.key] = list
		case [][]entry:
			list := make([]any, len(v))
			for i, t := range v {
				list[i] = toMap(t)
			}
			m[e.key] = list
		default:
			m[e.key] = v
		}
	}
	return m
}

// MarshalTOML renders the configuration as TOML, in declaration order,
// with durations as strings. Loading the output as a base.toml gives the
// same configuration back. It does not redact: see [Config.Redacted].
func (c *Config) MarshalTOML() ([]byte, error) {
	var b bytes.Buffer
	writeTOMLTable(&b, "", encodeTable(schema(), reflect.ValueOf(c).Elem()))
	return b.Bytes(), nil
}

func writeTOMLTable(b *bytes.Buffer, prefix string, entries []entry) {
	for _, e := range entries {
		if e.isTable() || isTableList(e.value) {
			continue
		}
		b.WriteString(e.key)
		b.WriteString(" = ")
		writeTOMLValue(b, e.value)
		b.WriteByte('\n')
	}
	for _, e := range entries {
		if !e.isTable() {
			continue
		}
		path := joinKey(prefix, e.key)
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[" + path + "]\n")
		writeTOMLTable(b, path, e.table)
	}
	// Arrays of tables last: a [[table]] header ends the table before it.
	for _, e := range entries {
		if !isTableList(e.value) {
			continue
		}
		path := joinKey(prefix, e.key)
		for _, t := range e.value.([][]entry) {
			b.WriteString("\n[[" + path + "]]\n")
			writeTOMLTable(b, path, t)
		}
	}
}

// isTableList reports whether an entry's value is a non-empty array of
// tables (an empty one is written inline as "key = []").
func isTableList(v any) bool {
	t, ok := v.([][]entry)
	return ok && len(t) > 0
}

func writeTOMLValue(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		b.WriteString(quote(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("nan")
		case math.IsInf(x, 1):
			b.WriteString("inf")
		case math.IsInf(x, -1):
			b.WriteString("-inf")
		default:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0" // keep it a float in TOML
			}
			b.WriteString(s)
		}
	case [][]entry: // only ever empty here
		b.WriteString("[]")
	case []string:
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(s))
		}
		b.WriteByte(']')
	}
}

// quote writes a string as a JSON string, which is also a valid TOML basic
// string (the escapes JSON uses are a subset of TOML's).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// MarshalJSON renders the configuration as a JSON object with the TOML key
// names, in declaration order, durations as strings ("30s"). It does not
// redact: see [Config.Redacted].
func (c *Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	writeJSONTable(&b, encodeTable(schema(), reflect.ValueOf(c).Elem()))
	return b.Bytes(), nil
}

func writeJSONTable(b *bytes.Buffer, entries []entry) {
	b.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(e.key))
		b.WriteByte(':')
		switch x := e.value.(type) {
		case nil:
			writeJSONTable(b, e.table)
		case string:
			b.WriteString(quote(x))
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				b.WriteString("null") // JSON has no NaN or infinity
				continue
			}
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		case []string:
			if x == nil {
				x = []string{}
			}
			data, _ := json.Marshal(x) // strings always encode
			b.Write(data)
		case [][]entry:
			b.WriteByte('[')
			for i, t := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				writeJSONTable(b, t)
			}
			b.WriteByte(']')
		default:
			data, _ := json.Marshal(x) // int64 and bool always encode
			b.Write(data)
		}
	}
	b.WriteByte('}')
}
