package corecompat

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

type probe struct {
	ID       Uuid           `json:"id"`
	At       DateTimeUtc    `json:"at"`
	Naive    *NaiveDateTime `json:"naive"`
	Count    int32          `json:"count"`
	Size     uint64         `json:"size"`
	Ratio    float64        `json:"ratio"`
	Note     *string        `json:"note"`
	Tags     []string       `json:"tags" rust:"default"`
	Raw      Value          `json:"raw"`
	Reason   string         `json:"reason" enum:"A,B"`
	Children []probeChild   `json:"children"`
}

type probeChild struct {
	Name string `json:"name"`
}

const goodProbe = `{"id": "0195d1d8-7a4b-7c3e-9f00-000000000001", "at": "2026-01-02T03:04:05.123456Z",
	"naive": "2026-01-02T03:04:05.123456", "count": 3, "size": 10, "ratio": 1, "raw": null, "reason": "A",
	"children": [{"name": "x", "extra": true}], "unknown": 1}`

func TestCheckAcceptsWhatSerdeAccepts(t *testing.T) {
	var p probe
	require.NoError(t, Check([]byte(goodProbe), &p))
	require.Equal(t, int32(3), p.Count)
	require.Nil(t, p.Note)
}

// TestCheckRefusesWhatSerdeRefuses changes one thing in a good document at
// a time: each must be refused, naming the field.
func TestCheckRefusesWhatSerdeRefuses(t *testing.T) {
	cases := map[string]struct {
		key  string
		val  any
		want string
	}{
		"missing required":   {"count", nil, `missing field "count"`},
		"null required":      {"ratio", json.RawMessage("null"), "/ratio: null"},
		"float for i32":      {"count", 2.5, "/count: expected an integer"},
		"i32 overflow":       {"count", 1 << 40, "does not fit i32"},
		"negative u64":       {"size", -1, "does not fit u64"},
		"string for integer": {"count", "3", "expected an integer"},
		"zone on naive":      {"naive", "2026-01-02T03:04:05Z", "is not a NaiveDateTime"},
		"no zone on utc":     {"at", "2026-01-02T03:04:05", "is not an RFC 3339 date-time"},
		"bad uuid":           {"id", "nope", "is not a UUID"},
		"enum spelling":      {"reason", "a", "is not one of the enum's variants"},
		"null default vec":   {"tags", json.RawMessage("null"), "/tags: null"},
		"nested":             {"children", []any{map[string]any{"name": 1}}, "/children/0/name: expected a string"},
		"missing raw":        {"raw", nil, `missing field "raw"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(goodProbe), &doc))
			if tc.val == nil {
				delete(doc, tc.key)
			} else {
				doc[tc.key] = tc.val
			}
			b, err := json.Marshal(doc)
			require.NoError(t, err)
			err = Check(b, new(probe))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheckOptionalFields(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(goodProbe), &doc))
	delete(doc, "naive")
	delete(doc, "tags")
	doc["note"] = nil
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, Check(b, new(probe)))
}

func TestTaskRequestIsWhatTheClientSends(t *testing.T) {
	r := NewTaskRequest("ns", "name", "1.0.0", Value(`{"a": 1}`))
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Nil(t, m["options"])
	require.Contains(t, m, "options")
	require.Contains(t, m, "priority")
	require.Contains(t, m, "parent_correlation_id")
	require.NotContains(t, m, "idempotency_key")
	require.Regexp(t, `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$`, m["requested_at"])
}
