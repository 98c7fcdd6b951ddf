package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/api"
)

var (
	uuidType = reflect.TypeFor[uuid.UUID]()
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// decodeObject decodes a JSON object into dst (a pointer to a struct),
// strictly, and reports every problem with a JSON pointer: malformed JSON, a
// body that is not an object, unknown fields, and values of the wrong type.
// Nested structs are decoded the same way; json.RawMessage fields take any
// value. Fields are matched by their exact JSON name.
func decodeObject(body []byte, dst any) []api.FieldError {
	return decodeAt("", body, reflect.ValueOf(dst).Elem())
}

// rawObject splits a JSON object into its members, or says why it cannot.
func rawObject(ptr string, body []byte) (map[string]json.RawMessage, []api.FieldError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, []api.FieldError{{Pointer: ptr, Message: "a JSON object is required"}}
	}
	malformed := func() []api.FieldError {
		return []api.FieldError{{Pointer: ptr, Message: "malformed JSON: " + syntaxMessage(trimmed)}}
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, malformed()
		}
		return nil, []api.FieldError{{Pointer: ptr, Message: "must be a JSON object, not " + jsonKind(trimmed)}}
	}
	// Unmarshal validates the whole input before it decodes, so a body is
	// scanned a second time only when it is broken (for the message).
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		if !json.Valid(trimmed) {
			return nil, malformed()
		}
		return nil, []api.FieldError{{Pointer: ptr, Message: "malformed JSON: " + err.Error()}}
	}
	return fields, nil
}

func decodeAt(ptr string, body []byte, dst reflect.Value) []api.FieldError {
	fields, problems := rawObject(ptr, body)
	if problems != nil {
		return problems
	}
	byName := jsonFields(dst.Type())
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []api.FieldError
	for _, k := range keys {
		fp := ptr + "/" + escapeToken(k)
		idx, ok := byName[k]
		if !ok {
			out = append(out, api.FieldError{Pointer: fp, Message: "unknown field"})
			continue
		}
		out = append(out, decodeField(fp, fields[k], dst.FieldByIndex(idx))...)
	}
	return out
}

func decodeField(ptr string, raw json.RawMessage, f reflect.Value) []api.FieldError {
	t := f.Type()
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if base.Kind() == reflect.Struct && base != timeType && base != uuidType &&
		!reflect.PointerTo(base).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		if string(bytes.TrimSpace(raw)) == "null" {
			return nil
		}
		target := f
		if t.Kind() == reflect.Pointer {
			nv := reflect.New(base)
			errs := decodeAt(ptr, raw, nv.Elem())
			if len(errs) == 0 {
				f.Set(nv)
			}
			return errs
		}
		return decodeAt(ptr, raw, target)
	}
	if t.Kind() == reflect.Slice && t != rawType && t.Elem().Kind() != reflect.Uint8 {
		trimmed := bytes.TrimSpace(raw)
		if string(trimmed) == "null" {
			return nil
		}
		var items []json.RawMessage
		if len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(trimmed, &items) != nil {
			return []api.FieldError{{Pointer: ptr, Message: "must be an array, not " + jsonKind(trimmed)}}
		}
		out := reflect.MakeSlice(t, len(items), len(items))
		var problems []api.FieldError
		for i, item := range items {
			problems = append(problems, decodeField(fmt.Sprintf("%s/%d", ptr, i), item, out.Index(i))...)
		}
		if len(problems) == 0 {
			f.Set(out)
		}
		return problems
	}
	if base == timeType {
		return decodeTime(ptr, raw, f)
	}
	if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			p := ptr
			if te.Field != "" {
				p += "/" + strings.ReplaceAll(te.Field, ".", "/")
			}
			return []api.FieldError{{Pointer: p, Message: fmt.Sprintf("must be %s, not %s", kindName(te.Type), te.Value)}}
		}
		switch base {
		case uuidType:
			return []api.FieldError{{Pointer: ptr, Message: "must be a UUID string"}}
		case timeType:
			return []api.FieldError{{Pointer: ptr, Message: "must be an RFC 3339 date-time string"}}
		}
		return []api.FieldError{{Pointer: ptr, Message: err.Error()}}
	}
	return nil
}

// jsonFields maps a struct's JSON field names to field indexes. The maps
// are built once per type (every request decodes the same few types) and
// only read afterwards.
func jsonFields(t reflect.Type) map[string][]int {
	if m, ok := fieldsByType.Load(t); ok {
		return m.(map[string][]int)
	}
	m, _ := fieldsByType.LoadOrStore(t, buildJSONFields(t))
	return m.(map[string][]int)
}

var fieldsByType sync.Map // reflect.Type → map[string][]int

func buildJSONFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag := f.Tag.Get("json"); tag != "" {
			if n, _, _ := strings.Cut(tag, ","); n != "" {
				name = n
			}
		}
		if name == "-" {
			continue
		}
		out[name] = f.Index
	}
	return out
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == uuidType:
		return "a UUID string"
	case t == timeType:
		return "an RFC 3339 date-time string"
	case t == rawType:
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

func jsonKind(v []byte) string {
	switch v[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// syntaxMessage describes where a document stops being valid JSON.
func syntaxMessage(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	err := dec.Decode(&v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case err != nil:
		return err.Error()
	}
	return "unexpected data after the JSON value"
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return tokenEscaper.Replace(s)
}

// tokenEscaper is built once: a Replacer prepares its tables on first use,
// and building one per field name was a measurable share of a task
// creation's CPU.
var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// decodeTime reads a timestamp: RFC 3339, or a date and time without a
// time zone, which is UTC (tasker-core's clients send requested_at so).
// null leaves a pointer nil.
func decodeTime(ptr string, raw json.RawMessage, f reflect.Value) []api.FieldError {
	trimmed := bytes.TrimSpace(raw)
	if string(trimmed) == "null" && f.Kind() == reflect.Pointer {
		return nil
	}
	var text string
	if err := json.Unmarshal(trimmed, &text); err != nil {
		return []api.FieldError{{Pointer: ptr, Message: "must be a date-time string, not " + jsonKind(trimmed)}}
	}
	t, err := api.ParseLenientTime(text)
	if err != nil {
		return []api.FieldError{{Pointer: ptr, Message: "must be an RFC 3339 date-time, or a date-time without a time zone (read as UTC)"}}
	}
	if f.Kind() == reflect.Pointer {
		f.Set(reflect.ValueOf(&t))
		return nil
	}
	f.Set(reflect.ValueOf(t))
	return nil
}
