package guest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file is a small JSON scanner: it finds a member of an object and the
// extent of a value without decoding anything. The SDK reads the step event
// with it lazily, so a handler pays for the parts it reads (its context, a
// dependency's result), not for reflection over the whole event; compiled to
// WebAssembly, encoding/json over a few kilobytes of event costs far more
// than the handler itself.

// errSyntax is malformed JSON met while scanning.
var errSyntax = errors.New("malformed JSON")

// special marks the bytes that end a run of uninteresting bytes inside a
// container: string quotes and brackets.
var special = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at d[i] == '"'.
func skipString(d []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return 0, errSyntax
		}
		q := i + j
		// The quote ends the string unless an odd number of
		// backslashes escapes it (the opening quote stops the count).
		k := q - 1
		for d[k] == '\\' {
			k--
		}
		i = q + 1
		if (q-1-k)%2 == 0 {
			return i, nil
		}
	}
}

// skipValue returns the index after the value starting at d[i] (after any
// white space). Containers are matched bracket by bracket, strings are
// skipped whole; scalars run to the next delimiter, and what lies between
// the brackets is not checked further (a value's syntax is checked when it
// is decoded).
func skipValue(d []byte, i int) (int, error) {
	i = skipSpace(d, i)
	if i >= len(d) {
		return 0, errSyntax
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		// The closers still expected, innermost last.
		var buf [32]byte
		open := buf[:0]
		for i < len(d) {
			c := d[i]
			if !special[c] {
				i++
				continue
			}
			switch c {
			case '"':
				var err error
				if i, err = skipString(d, i); err != nil {
					return 0, err
				}
				continue
			case '{':
				open = append(open, '}')
			case '[':
				open = append(open, ']')
			default:
				if open[len(open)-1] != c {
					return 0, errSyntax
				}
				open = open[:len(open)-1]
				if len(open) == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errSyntax
	case '}', ']', ',', ':':
		return 0, errSyntax
	}
	start := i
	for i < len(d) && d[i] != ',' && d[i] != '}' && d[i] != ']' && !isSpace(d[i]) {
		i++
	}
	if i == start {
		return 0, errSyntax
	}
	return i, nil
}

// member returns the value of key in the object obj (nil, false when the
// object has no such member or obj is not an object). Keys are compared
// as they are written; the event's keys have no escapes. obj may run past
// the object's end. With open the value is returned from its start to the
// end of obj, without finding its own end: enough to look into it further,
// and cheaper when it is large.
func member(obj []byte, key string, open bool) ([]byte, bool, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false, nil
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false, nil
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return nil, false, errSyntax
		}
		end, err := skipString(obj, i)
		if err != nil {
			return nil, false, err
		}
		k := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false, errSyntax
		}
		start := skipSpace(obj, i+1)
		if open && string(k) == key {
			return obj[start:], true, nil
		}
		if i, err = skipValue(obj, start); err != nil {
			return nil, false, err
		}
		if string(k) == key {
			return obj[start:i], true, nil
		}
		i = skipSpace(obj, i)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
			continue
		}
		if i < len(obj) && obj[i] == '}' {
			return nil, false, nil
		}
		return nil, false, errSyntax
	}
	return nil, false, errSyntax
}

// Lookup returns the JSON value at path in the JSON object data: each
// element of path names a member of the object before it. ok is false
// when a member is missing or a value on the way is not an object. It
// reads only what it must, without decoding: handlers use it to pick one
// field out of a dependency's result or the task context cheaply.
func Lookup(data json.RawMessage, path ...string) (value json.RawMessage, ok bool, err error) {
	v := []byte(data)
	for n, key := range path {
		if v, ok, err = member(v, key, n < len(path)-1); !ok || err != nil {
			return nil, false, err
		}
	}
	return v, true, nil
}

// lookupOpen is Lookup returning the value from its start to the end of
// data (see member): for sections that are only looked into.
func lookupOpen(data []byte, path ...string) ([]byte, bool, error) {
	v := data
	var ok bool
	var err error
	for _, key := range path {
		if v, ok, err = member(v, key, true); !ok || err != nil {
			return nil, false, err
		}
	}
	return v, true, nil
}

// stringValue decodes a JSON string ("" for anything else).
func stringValue(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 {
		return string(body)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// intValue decodes a JSON integer (0 for anything else).
func intValue(raw []byte) int {
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0
	}
	return n
}

// topLevel checks that data looks like one JSON object (it starts with '{'
// and ends with '}') and returns it without the surrounding white space.
// Its inside is checked as it is read.
func topLevel(data []byte) ([]byte, error) {
	i, end := skipSpace(data, 0), len(data)
	for end > i && isSpace(data[end-1]) {
		end--
	}
	if end-i < 2 || data[i] != '{' || data[end-1] != '}' {
		return nil, fmt.Errorf("reading the step event: %w: it is not a JSON object", errSyntax)
	}
	return data[i:end], nil
}
