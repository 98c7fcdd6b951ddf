package web

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
)

type decodeProbe struct {
	Name  string          `json:"name"`
	Inner *decodeInner    `json:"inner"`
	Any   json.RawMessage `json:"any"`
}

type decodeInner struct {
	N int `json:"n"`
}

// TestDecodeObjectProblems pins what the strict decoder says of bad bodies:
// the message of each kind of problem, and JSON pointers with "~" and "/"
// escaped in member names.
func TestDecodeObjectProblems(t *testing.T) {
	for _, c := range []struct {
		body string
		want []api.FieldError
	}{
		{``, []api.FieldError{{Pointer: "", Message: "a JSON object is required"}}},
		{`null`, []api.FieldError{{Pointer: "", Message: "must be a JSON object, not null"}}},
		{`[1]`, []api.FieldError{{Pointer: "", Message: "must be a JSON object, not an array"}}},
		{`[1,`, []api.FieldError{{Pointer: "", Message: "malformed JSON: unexpected end of input"}}},
		{`{"name": "x",`, []api.FieldError{{Pointer: "", Message: "malformed JSON: unexpected end of input"}}},
		{`{"name": x}`, []api.FieldError{{Pointer: "",
			Message: "malformed JSON: invalid character 'x' looking for beginning of value (at byte 10)"}}},
		{`{"a/b": 1, "t~x": 2, "name": "ok"}`, []api.FieldError{
			{Pointer: "/a~1b", Message: "unknown field"}, {Pointer: "/t~0x", Message: "unknown field"}}},
		{`{"inner": {"n": "one", "m/~": 1}}`, []api.FieldError{
			{Pointer: "/inner/m~1~0", Message: "unknown field"}, {Pointer: "/inner/n", Message: "must be an integer, not string"}}},
		{`{"inner": 3}`, []api.FieldError{{Pointer: "/inner", Message: "must be a JSON object, not a number"}}},
	} {
		var p decodeProbe
		require.Equal(t, c.want, decodeObject([]byte(c.body), &p), c.body)
	}

	var p decodeProbe
	require.Empty(t, decodeObject([]byte(` {"name": "x", "inner": {"n": 2}, "any": [1, {"b": null}]} `), &p))
	require.Equal(t, decodeProbe{Name: "x", Inner: &decodeInner{N: 2}, Any: json.RawMessage(`[1, {"b": null}]`)}, p)
}

// TestJSONFieldsCached: a type's field map is built once and shared.
func TestJSONFieldsCached(t *testing.T) {
	typ := reflect.TypeFor[decodeProbe]()
	a, b := jsonFields(typ), jsonFields(typ)
	require.Equal(t, map[string][]int{"name": {0}, "inner": {1}, "any": {2}}, a)
	require.Equal(t, reflect.ValueOf(a).Pointer(), reflect.ValueOf(b).Pointer(), "the same map both times")
}
