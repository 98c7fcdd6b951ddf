// Package httpcheck is the rule both REST APIs (orchestration and worker)
// apply at their edge, to every request, before any handler runs: every path
// segment, query parameter and JSON string (values and object keys) must be
// valid UTF-8 without NUL characters, JSON strings must not hold unpaired
// UTF-16 surrogate escapes, and JSON numbers must fit PostgreSQL's numeric
// type. PostgreSQL refuses all of these in text and jsonb, so without the
// rule they would reach the database and fail there; with it the client gets
// a 400 naming the parameter or the JSON pointer.
//
// The request line and headers are limited too (MaxHeaderBytes, below the
// server's own limit, so the API can answer 431 in its JSON envelope).
package httpcheck

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
)

// Header limits. The APIs answer 431 themselves when the request line and
// headers exceed MaxHeaderBytes; their http.Server gets ServerMaxHeaderBytes,
// above it, so only requests over that get Go's plain-text 431.
const (
	MaxHeaderBytes       = 64 << 10
	ServerMaxHeaderBytes = 1 << 20
)

// maxProblems caps the problems one check reports.
const maxProblems = 20

// Problem is one thing wrong with a request. Parameter names a path or
// query parameter ("path" for a path segment no route parameter covers);
// otherwise Pointer is a JSON pointer into the body.
type Problem struct {
	Pointer   string
	Parameter string
	Message   string
}

// Text checks one decoded string; it returns "" when s is acceptable, else
// what is wrong with it.
func Text(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters (\\u0000)"
	}
	return ""
}

// HeaderBytes is the size of the request line and headers roughly as the
// client sent them.
func HeaderBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// Params checks the request's path and query: each route parameter (as
// routes matches it) and then every other path segment, and each query
// parameter's name and value, which must also be correctly percent-encoded.
func Params(r *http.Request, routes chi.Routes) []Problem {
	var out []Problem
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if routes != nil {
		rctx := chi.NewRouteContext()
		routes.Find(rctx, r.Method, path)
		for i, name := range rctx.URLParams.Keys {
			v := rctx.URLParams.Values[i]
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
			if msg := Text(v); msg != "" {
				out = append(out, Problem{Parameter: name, Message: msg})
			}
		}
	}
	if len(out) == 0 {
		if msg := Text(r.URL.Path); msg != "" {
			out = append(out, Problem{Parameter: "path", Message: msg})
		}
	}
	return append(out, Query(r.URL.RawQuery)...)
}

// Query checks a raw query string.
func Query(raw string) []Problem {
	var out []Problem
	for raw != "" && len(out) < maxProblems {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			out = append(out, Problem{Parameter: rawKey, Message: "the name is not correctly percent-encoded"})
			continue
		}
		if msg := Text(key); msg != "" {
			out = append(out, Problem{Parameter: key, Message: "the name " + msg})
			continue
		}
		if strings.Contains(pair, ";") {
			out = append(out, Problem{Parameter: key, Message: "contains a semicolon: separate parameters with & and encode ; as %3B"})
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			out = append(out, Problem{Parameter: key, Message: "is not correctly percent-encoded"})
			continue
		}
		if msg := Text(value); msg != "" {
			out = append(out, Problem{Parameter: key, Message: msg})
		}
	}
	return out
}
