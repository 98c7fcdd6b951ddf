package config

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The doc comments of the config structs are the reference for Go code;
// every default (and per-environment value) they state must be the value
// the shipped files and the built-in defaults give.
func TestDocCommentDefaultsMatchTheValues(t *testing.T) {
	docs := fieldDocs(t)
	checked := 0
	for _, ctx := range []string{ContextOrchestration, ContextWorker} {
		values := map[string]reflect.Value{"": reflect.ValueOf(builtin(ctx)).Elem()}
		for _, env := range Environments {
			cfg, err := Load(LoadOptions{Context: ctx, Env: env})
			require.NoError(t, err)
			values[env] = reflect.ValueOf(cfg).Elem()
		}
		var walk func(prefix string, table *field, typ reflect.Type, vals map[string]reflect.Value)
		walk = func(prefix string, table *field, typ reflect.Type, vals map[string]reflect.Value) {
			for _, f := range table.fields {
				key := joinKey(prefix, f.key)
				sub := make(map[string]reflect.Value, len(vals))
				for k, v := range vals {
					sub[k] = v.Field(f.index)
				}
				if f.kind == kindTable {
					ft := f.typ
					if f.ptr {
						if sub[""].IsNil() {
							continue // the other context's section
						}
						ft = ft.Elem()
						for k, v := range sub {
							sub[k] = v.Elem()
						}
					}
					walk(key, f, ft, sub)
					continue
				}
				doc := docs[typ.Name()+"."+typ.Field(f.index).Name]
				claim, ok := parseDefaultClaim(doc)
				if !ok {
					continue
				}
				checked++
				requireDocValue(t, key, doc, f.kind, claim.value, sub[""], "the built-in default")
				for _, env := range Environments {
					want, listed := claim.envs[env]
					if !listed {
						if strings.Contains(claim.value, "${") {
							continue // resolved from the environment
						}
						want = claim.value
					}
					requireDocValue(t, key, doc, f.kind, want, sub[env], "the "+env+" environment")
				}
			}
		}
		walk("", schema(), reflect.TypeFor[Config](), values)
	}
	require.Greater(t, checked, 40, "the check found the documented defaults")
}

// fieldDocs maps "Type.Field" to the field's doc comment on one line.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				for _, id := range fld.Names {
					if fld.Doc != nil {
						out[ts.Name.Name+"."+id.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
					}
				}
			}
			return true
		})
	}
	return out
}

// defaultClaim is what a doc comment says a key defaults to: the value,
// and the environments that differ ("Default 30s (test 5s, production
// 1m)"), or `X (the default)`.
type defaultClaim struct {
	value string
	envs  map[string]string
}

func parseDefaultClaim(doc string) (defaultClaim, bool) {
	if i := strings.Index(doc, " (the default)"); i >= 0 {
		return defaultClaim{value: lastToken(doc[:i])}, true
	}
	i := strings.Index(doc, "Default ")
	if i < 0 {
		return defaultClaim{}, false
	}
	rest := doc[i+len("Default "):]
	var value string
	if strings.HasPrefix(rest, `"`) {
		end := strings.Index(rest[1:], `"`) + 2
		value, rest = rest[:end], rest[end:]
	} else {
		end := strings.IndexAny(rest, " ")
		if end < 0 {
			end = len(rest)
		}
		value, rest = rest[:end], rest[end:]
		trimmed := strings.TrimRight(value, ".,;")
		if trimmed != value {
			return defaultClaim{value: trimmed}, true // the sentence ended
		}
	}
	claim := defaultClaim{value: strings.TrimRight(value, ".,;"), envs: map[string]string{}}
	if !strings.HasPrefix(rest, " (") {
		return claim, true
	}
	paren, _, _ := strings.Cut(rest[2:], ")")
	for _, part := range strings.Split(paren, ", ") {
		env, v, ok := strings.Cut(part, " ")
		if !ok || !slices.Contains(Environments, env) {
			return defaultClaim{value: claim.value}, true // a remark, not environments
		}
		claim.envs[env] = v
	}
	return claim, true
}

// lastToken is the last word of s, or its last quoted string.
func lastToken(s string) string {
	if strings.HasSuffix(s, `"`) {
		return s[strings.LastIndex(s[:len(s)-1], `"`):]
	}
	return s[strings.LastIndex(s, " ")+1:]
}

// requireDocValue fails unless the documented text equals the value v of
// a key of kind k.
func requireDocValue(t *testing.T, key, doc string, k kind, text string, v reflect.Value, where string) {
	t.Helper()
	msg := []any{"%s: the doc comment says %q, which is not %s (%v)\ncomment: %s", key, text, where, v.Interface(), doc}
	unquote := func() string {
		s, err := strconv.Unquote(text)
		if text == "Empty" {
			return ""
		}
		require.NoError(t, err, msg...)
		return s
	}
	switch k {
	case kindString:
		require.Equal(t, unquote(), v.String(), msg...)
	case kindDuration:
		d, err := time.ParseDuration(text)
		require.NoError(t, err, msg...)
		require.Equal(t, d, time.Duration(v.Int()), msg...)
	case kindInt:
		n, err := strconv.ParseInt(text, 0, 64)
		require.NoError(t, err, msg...)
		require.Equal(t, n, v.Int(), msg...)
	case kindFloat:
		x, err := strconv.ParseFloat(text, 64)
		require.NoError(t, err, msg...)
		require.InDelta(t, x, v.Float(), 0, msg...)
	case kindBool:
		b, err := strconv.ParseBool(text)
		require.NoError(t, err, msg...)
		require.Equal(t, b, v.Bool(), msg...)
	case kindStringList:
		list := []string{}
		if text != "Empty" {
			require.NoError(t, json.Unmarshal([]byte(text), &list), msg...)
		}
		require.Equal(t, list, v.Interface(), msg...)
	default:
		require.Failf(t, "cannot check", "%s: kind %v", key, k)
	}
}
