package httpcheck_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/httpcheck"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestText(t *testing.T) {
	require.Empty(t, httpcheck.Text("héllo, wörld ✓"))
	require.Empty(t, httpcheck.Text(""))
	require.Contains(t, httpcheck.Text("a\x00b"), "NUL")
	require.Contains(t, httpcheck.Text("a\xffb"), "UTF-8")
	require.Contains(t, httpcheck.Text("\xed\xa0\x80"), "UTF-8", "a surrogate encoded as UTF-8 is not UTF-8")
}

func TestJSON(t *testing.T) {
	cases := []struct {
		body string
		want []httpcheck.Problem
	}{
		{`{"a": "fine", "b": ["x", 1, true, null, {"c": "\u00e9\ud83d\ude00"}]}`, nil},
		{`not json`, nil}, // the decoder reports malformed JSON
		{`{"context": {"k": "a\u0000b"}}`, []httpcheck.Problem{{Pointer: "/context/k", Message: "must not contain NUL characters (\\u0000)"}}},
		{`{"tags": ["ok", "\ud800"]}`, []httpcheck.Problem{{Pointer: "/tags/1", Message: "contains an unpaired UTF-16 surrogate escape (\\ud800)"}}},
		{`{"tags": ["\uDC00x"]}`, []httpcheck.Problem{{Pointer: "/tags/0", Message: "contains an unpaired UTF-16 surrogate escape (\\udc00)"}}},
		{`{"a": "\ud800\u0041"}`, []httpcheck.Problem{{Pointer: "/a", Message: "contains an unpaired UTF-16 surrogate escape (\\ud800)"}}},
		{"{\"name\": \"\xff\"}", []httpcheck.Problem{{Pointer: "/name", Message: "is not valid UTF-8"}}},
		{`{"a\u0000b": 1}`, []httpcheck.Problem{{Pointer: "/a\x00b", Message: "the key must not contain NUL characters (\\u0000)"}}},
		{`{"x/y~z": {"\ud800": 1}}`, []httpcheck.Problem{{Pointer: "/x~1y~0z/\ufffd", Message: "the key contains an unpaired UTF-16 surrogate escape (\\ud800)"}}},
		{`"\u0000"`, []httpcheck.Problem{{Pointer: "", Message: "must not contain NUL characters (\\u0000)"}}},
		{`{"": ["\u0000"]}`, []httpcheck.Problem{{Pointer: "//0", Message: "must not contain NUL characters (\\u0000)"}}},
		{`{"n": 1e131072}`, []httpcheck.Problem{{Pointer: "/n", Message: "is a number PostgreSQL cannot store (at most 131072 digits before the decimal point and 16383 after)"}}},
		{`{"escaped \"quote\" \\": "\\u0000 is only text here"}`, nil},
	}
	for _, c := range cases {
		require.Equal(t, c.want, httpcheck.JSON([]byte(c.body)), c.body)
	}
	var many strings.Builder
	many.WriteString("[")
	for i := range 50 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"\u0000"`)
	}
	many.WriteString("]")
	require.Len(t, httpcheck.JSON([]byte(many.String())), 20, "problems are capped")
}

// TestNumbersAgainstPostgreSQL checks the number rule against what jsonb
// really accepts.
func TestNumbersAgainstPostgreSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testdb.URL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	nums := []string{
		"0", "-0", "1", "-12.5", "1E+5", "1e131071", "1e131072", "123456789e131063", "123456789e131064",
		"1e-16383", "1e-16384", "12.5e-16382", "1.0e-16383", "100e-16385", "0.00012e131075", "0.00012e131076",
		"0e200000", "0e-16383", "0e-16384", "0e1073741822", "0e1073741823", "1e1000000", "1e-1000000",
		"1e00000000000000000005", "1e99999999999", "0." + strings.Repeat("1", 16383), "0." + strings.Repeat("1", 16384),
		strings.Repeat("9", 131072), strings.Repeat("9", 131073),
	}
	for _, n := range nums {
		doc := `{"n": ` + n + `}`
		_, pgErr := conn.Exec(ctx, `SELECT $1::jsonb`, doc)
		problems := httpcheck.JSON([]byte(doc))
		label := n
		if len(label) > 40 {
			label = label[:40] + "…"
		}
		require.Equal(t, pgErr == nil, len(problems) == 0, "%s: PostgreSQL says %v, the check says %v", label, pgErr, problems)
	}
}

func TestParams(t *testing.T) {
	r := chi.NewRouter()
	r.Get("/v1/templates/{namespace}/{name}/{version}", func(http.ResponseWriter, *http.Request) {})
	check := func(target string) []httpcheck.Problem {
		return httpcheck.Params(httptest.NewRequest(http.MethodGet, target, nil), r)
	}
	require.Empty(t, check("/v1/templates/ns/n%C3%A9/1.0.0?namespace=caf%C3%A9&x"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "namespace", Message: "must not contain NUL characters (\\u0000)"}},
		check("/v1/templates/a%00/b/1.0.0"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "name", Message: "is not valid UTF-8"}},
		check("/v1/templates/a/%ff/1.0.0"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "path", Message: "must not contain NUL characters (\\u0000)"}},
		check("/v1/nowhere%00"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "namespace", Message: "must not contain NUL characters (\\u0000)"}},
		check("/v1/templates?namespace=%00"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "name", Message: "is not valid UTF-8"}},
		check("/v1/templates?name=%ff"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "a\x00", Message: "the name must not contain NUL characters (\\u0000)"}},
		check("/v1/templates?a%00=1"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "p", Message: "is not correctly percent-encoded"}},
		check("/v1/templates?p=%zz"))
	require.Equal(t, []httpcheck.Problem{{Parameter: "a", Message: "contains a semicolon: separate parameters with & and encode ; as %3B"}},
		check("/v1/templates?a=1;b=2"))
}

func TestHeaderBytes(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/v1/tasks", nil)
	small := httpcheck.HeaderBytes(req)
	req.Header.Set("X-Big", strings.Repeat("x", 10000))
	require.InDelta(t, small+10000+len("X-Big")+4, httpcheck.HeaderBytes(req), 0)
}

// FuzzJSON: the check never panics, and a document without escapes, raw
// invalid UTF-8 or numbers has no string problems.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"\u0000"}`, `["\ud800\udc00", "\udbff"]`, "{\"\xff\":1}", `{"n":1e999999}`,
		`{"a":[{"b":[[["c"]]]}]}`, `"\\"`, `-0.0e-0`, `[1,2,{"x":"\"\\\/\b\f\n\r\t\u1234"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		problems := httpcheck.JSON(body)
		if !json.Valid(body) {
			require.Empty(t, problems)
			return
		}
		if utf8.Valid(body) && !strings.ContainsAny(string(body), `\0123456789`) {
			require.Empty(t, problems)
		}
	})
}

// BenchmarkJSON measures the body check on a typical task creation body and
// on a context near the 1 MiB limit.
func BenchmarkJSON(b *testing.B) {
	small := []byte(`{"namespace": "payments", "name": "refund", "version": "1.0.0", "initiator": "billing",
		"source_system": "billing", "reason": "nightly", "tags": ["a", "b"], "context": {"order_id": 12345,
		"amount": 99.95, "currency": "EUR", "customer": {"name": "Zoë Müller", "email": "zoe@example.com"},
		"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}}`)
	var big strings.Builder
	big.WriteString(`{"context": {"rows": [`)
	for i := 0; big.Len() < 1<<20-100; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"id": %d, "label": "row \u00e9 %d", "ok": true, "v": 1.5e3}`, i, i)
	}
	big.WriteString(`]}}`)
	for name, body := range map[string][]byte{"create_body": small, "context_1MiB": []byte(big.String())} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if p := httpcheck.JSON(body); p != nil {
					b.Fatal(p)
				}
			}
		})
	}
}

func BenchmarkParams(b *testing.B) {
	r := chi.NewRouter()
	r.Get("/v1/tasks/{uuid}/workflow_steps/{step_uuid}", func(http.ResponseWriter, *http.Request) {})
	req := httptest.NewRequest(http.MethodGet,
		"/v1/tasks/0195d1d8-0000-7000-8000-000000000001/workflow_steps/0195d1d8-0000-7000-8000-000000000002?page=1&per_page=25", nil)
	for b.Loop() {
		if p := httpcheck.Params(req, r); p != nil {
			b.Fatal(p)
		}
	}
}
