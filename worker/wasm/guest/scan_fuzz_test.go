package guest_test

import (
	"encoding/json"
	"testing"

	"github.com/tasker-go/tasker/worker/wasm/guest"
)

// FuzzLookup: Lookup never panics, and on a valid JSON object it finds a
// member exactly when encoding/json does, as a valid JSON value.
func FuzzLookup(f *testing.F) {
	for _, seed := range []string{`{"a": 1}`, `{"a": {"b": [1, "x\"]"]}}`, `{"a": "\\"}`, `{`, `{"a": [}`, ` {"b": null, "a": true} `, `[1]`} {
		f.Add(seed, "a")
	}
	f.Fuzz(func(t *testing.T, doc, key string) {
		v, ok, err := guest.Lookup(json.RawMessage(doc), key)
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		if err != nil {
			t.Fatalf("Lookup(%q, %q) on a valid object: %v", doc, key, err)
		}
		keyPlain, _ := json.Marshal(key)
		if string(keyPlain) != `"`+key+`"` {
			return // keys are compared as written: escaped keys are out of scope
		}
		want, has := m[key]
		if ok != has {
			t.Fatalf("Lookup(%q, %q) found %v, encoding/json %v", doc, key, ok, has)
		}
		if ok && !json.Valid(v) {
			t.Fatalf("Lookup(%q, %q) = %q, not a JSON value (want %q)", doc, key, v, want)
		}
	})
}
