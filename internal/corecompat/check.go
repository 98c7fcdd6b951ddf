package corecompat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Uuid is a Rust uuid::Uuid: a string holding a UUID.
type Uuid string

// DateTimeUtc is a Rust chrono::DateTime<Utc>: an RFC 3339 string with a
// zone.
type DateTimeUtc string

// NaiveDateTime is a Rust chrono::NaiveDateTime: a date and time without a
// zone, "2006-01-02T15:04:05" with an optional fraction.
type NaiveDateTime string

// Value is a Rust serde_json::Value: any JSON document.
type Value = json.RawMessage

var (
	uuidType        = reflect.TypeFor[Uuid]()
	dateTimeUtcType = reflect.TypeFor[DateTimeUtc]()
	naiveType       = reflect.TypeFor[NaiveDateTime]()
	valueType       = reflect.TypeFor[Value]()
	naiveRE         = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$`)
)

// Check decodes data the way serde decodes it into the Rust type mirrored
// by into (a pointer to a mirror type), and on success fills into. Every
// problem is reported with its JSON pointer.
func Check(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	t := reflect.TypeOf(into)
	if t == nil || t.Kind() != reflect.Pointer {
		return errors.New("corecompat.Check needs a pointer")
	}
	var problems []string
	check(&problems, "", doc, t.Elem(), "")
	if len(problems) > 0 {
		return fmt.Errorf("tasker-core's client would refuse this %s: %s", t.Elem().Name(), strings.Join(problems, "; "))
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decoding into %T: %w", into, err)
	}
	return nil
}

func ptrOr(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

// check validates v against the mirror type t; enum lists the accepted
// spellings of a string.
func check(problems *[]string, ptr string, v any, t reflect.Type, enum string) {
	add := func(format string, args ...any) {
		*problems = append(*problems, ptrOr(ptr)+": "+fmt.Sprintf(format, args...))
	}
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return
		}
		check(problems, ptr, v, t.Elem(), enum)
		return
	}
	if t == valueType {
		return
	}
	if v == nil {
		add("null where %s is required", rustName(t))
		return
	}
	switch t {
	case uuidType:
		s, ok := v.(string)
		if !ok {
			add("a UUID must be a string, got %s", kind(v))
		} else if _, err := uuid.Parse(s); err != nil {
			add("%q is not a UUID", s)
		}
		return
	case dateTimeUtcType:
		s, ok := v.(string)
		if !ok {
			add("a DateTime<Utc> must be a string, got %s", kind(v))
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			add("%q is not an RFC 3339 date-time with a zone", s)
		}
		return
	case naiveType:
		s, ok := v.(string)
		if !ok {
			add("a NaiveDateTime must be a string, got %s", kind(v))
		} else if !naiveRE.MatchString(s) {
			add("%q is not a NaiveDateTime (YYYY-MM-DDTHH:MM:SS[.f] without a zone)", s)
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			add("expected a string, got %s", kind(v))
			return
		}
		if enum != "" && !slices.Contains(strings.Split(enum, ","), s) {
			add("%q is not one of the enum's variants %s", s, enum)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add("expected a boolean, got %s", kind(v))
		}
	case reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		checkInteger(add, v, t)
	case reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			add("expected a number, got %s", kind(v))
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			add("expected an array, got %s", kind(v))
			return
		}
		for i, item := range items {
			check(problems, fmt.Sprintf("%s/%d", ptr, i), item, t.Elem(), enum)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			add("expected an object, got %s", kind(v))
			return
		}
		for k, item := range obj {
			check(problems, ptr+"/"+k, item, t.Elem(), enum)
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			add("expected an object (%s), got %s", t.Name(), kind(v))
			return
		}
		checkStruct(problems, ptr, obj, t)
	default:
		add("the mirror uses %s, which Check does not know", t)
	}
}

func checkStruct(problems *[]string, ptr string, obj map[string]any, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			*problems = append(*problems, fmt.Sprintf("mirror field %s.%s has no json name", t.Name(), f.Name))
			continue
		}
		fp := ptr + "/" + name
		v, present := obj[name]
		switch {
		case !present && (f.Type.Kind() == reflect.Pointer || f.Tag.Get("rust") == "default"):
		case !present:
			*problems = append(*problems, fmt.Sprintf("%s: missing field %q (%s)", ptrOr(ptr), name, rustName(f.Type)))
		default:
			check(problems, fp, v, f.Type, f.Tag.Get("enum"))
		}
	}
}

func checkInteger(add func(string, ...any), v any, t reflect.Type) {
	n, ok := v.(json.Number)
	if !ok {
		add("expected an integer (%s), got %s", rustName(t), kind(v))
		return
	}
	s := n.String()
	if strings.ContainsAny(s, ".eE") {
		add("expected an integer (%s), got the float %s", rustName(t), s)
		return
	}
	var lo, hi float64
	switch t.Kind() {
	case reflect.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	case reflect.Int32:
		lo, hi = math.MinInt32, math.MaxInt32
	case reflect.Int64:
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			add("%s does not fit i64", s)
		}
		return
	case reflect.Uint16:
		lo, hi = 0, math.MaxUint16
	case reflect.Uint32:
		lo, hi = 0, math.MaxUint32
	case reflect.Uint64:
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			add("%s does not fit u64", s)
		}
		return
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x < lo || x > hi {
		add("%s does not fit %s", s, rustName(t))
	}
}

func rustName(t reflect.Type) string {
	switch t {
	case uuidType:
		return "Uuid"
	case dateTimeUtcType:
		return "DateTime<Utc>"
	case naiveType:
		return "NaiveDateTime"
	case valueType:
		return "Value"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "Option<" + rustName(t.Elem()) + ">"
	case reflect.String:
		return "String"
	case reflect.Bool:
		return "bool"
	case reflect.Int16:
		return "i16"
	case reflect.Int32:
		return "i32"
	case reflect.Int64:
		return "i64"
	case reflect.Uint16:
		return "u16"
	case reflect.Uint32:
		return "u32"
	case reflect.Uint64:
		return "u64"
	case reflect.Float64:
		return "f64"
	case reflect.Slice:
		return "Vec<" + rustName(t.Elem()) + ">"
	case reflect.Map:
		return "HashMap<String, " + rustName(t.Elem()) + ">"
	}
	return t.Name()
}

func kind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + x.String()
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
