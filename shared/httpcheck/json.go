package httpcheck

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// PostgreSQL's numeric (and so jsonb's numbers) holds at most 131072 digits
// before the decimal point and 16383 after; it counts the digits as written,
// with the exponent applied, and refuses exponents beyond ±(2^31-1)/2.
const (
	maxNumericWeight = 131071
	maxNumericScale  = 16383
	maxExponent      = 1<<30 - 2
)

// JSON checks every string (values and object keys) and number of a JSON
// document. A document that is not valid JSON gets no problems: the decoder
// that reads it reports that with more precision.
//
// encoding/json would silently turn invalid UTF-8 and unpaired surrogate
// escapes into U+FFFD, so the check reads the raw bytes.
func JSON(body []byte) []Problem {
	if !json.Valid(body) {
		return nil
	}
	w := &jsonWalker{b: body}
	w.value()
	return w.out
}

type jsonWalker struct {
	b    []byte
	i    int
	path []pathToken // where the value being read is
	out  []Problem
}

// pathToken is one step of a JSON pointer: an object key as written (key
// set) or an array index. The pointer is only spelled out for a problem.
type pathToken struct {
	isKey bool
	key   []byte
	index int
}

func (w *jsonWalker) report(msg string) {
	if len(w.out) >= maxProblems {
		return
	}
	var b strings.Builder
	for _, tok := range w.path {
		b.WriteByte('/')
		if !tok.isKey {
			b.WriteString(strconv.Itoa(tok.index))
			continue
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(decodeKey(tok.key)))
	}
	w.out = append(w.out, Problem{Pointer: b.String(), Message: msg})
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value reads one value at w.i; the document is known to be valid JSON.
func (w *jsonWalker) value() {
	w.space()
	switch c := w.b[w.i]; {
	case c == '{':
		w.i++
		w.space()
		if w.b[w.i] == '}' {
			w.i++
			return
		}
		for {
			w.space()
			raw := w.str()
			w.path = append(w.path, pathToken{isKey: true, key: raw})
			if msg := stringProblem(raw); msg != "" {
				w.report("the key " + msg)
			}
			w.space()
			w.i++ // ':'
			w.value()
			w.path = w.path[:len(w.path)-1]
			w.space()
			if w.b[w.i] == '}' {
				w.i++
				return
			}
			w.i++ // ','
		}
	case c == '[':
		w.i++
		w.space()
		if w.b[w.i] == ']' {
			w.i++
			return
		}
		for n := 0; ; n++ {
			w.path = append(w.path, pathToken{index: n})
			w.value()
			w.path = w.path[:len(w.path)-1]
			w.space()
			if w.b[w.i] == ']' {
				w.i++
				return
			}
			w.i++ // ','
		}
	case c == '"':
		if msg := stringProblem(w.str()); msg != "" {
			w.report(msg)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := w.i
		exp := false
	number:
		for ; w.i < len(w.b); w.i++ {
			switch w.b[w.i] {
			case 'e', 'E':
				exp = true
			case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			default:
				break number
			}
		}
		// Without an exponent a number shorter than the scale limit fits.
		if (exp || w.i-start > maxNumericScale) && !numericFits(string(w.b[start:w.i])) {
			w.report("is a number PostgreSQL cannot store (at most 131072 digits before the decimal point and 16383 after)")
		}
	default: // true, false, null
		for w.i < len(w.b) && w.b[w.i] >= 'a' && w.b[w.i] <= 'z' {
			w.i++
		}
	}
}

// str reads a string token at w.i and returns what is between its quotes.
func (w *jsonWalker) str() []byte {
	w.i++ // opening quote
	start := w.i
	for w.b[w.i] != '"' {
		if w.b[w.i] == '\\' {
			w.i++
		}
		w.i++
	}
	w.i++
	return w.b[start : w.i-1]
}

// decodeKey turns a key's raw text into the string a JSON pointer names.
func decodeKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) // valid: the document is
	return s
}

// stringProblem checks a string token's raw text.
func stringProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if raw[i] != 'u' {
			continue
		}
		r := hex4(raw[i+1 : i+5])
		i += 4
		switch {
		case r == 0:
			return "must not contain NUL characters (\\u0000)"
		case r >= 0xDC00 && r <= 0xDFFF:
			return "contains an unpaired UTF-16 surrogate escape (\\u" + strings.ToLower(string(raw[i-3:i+1])) + ")"
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo := hex4(raw[i+3 : i+7]); lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return "contains an unpaired UTF-16 surrogate escape (\\u" + strings.ToLower(string(raw[i-3:i+1])) + ")"
		}
	}
	return ""
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// numericFits reports whether PostgreSQL's numeric input accepts a JSON
// number: digits before the point (after the exponent) within the weight
// limit, digits after it within the scale limit.
func numericFits(n string) bool {
	n = strings.TrimPrefix(n, "-")
	mantissa, expText, hasExp := strings.Cut(strings.ToLower(n), "e")
	intPart, frac, _ := strings.Cut(mantissa, ".")
	exp := 0
	if hasExp {
		expText = strings.TrimPrefix(expText, "+")
		neg := strings.HasPrefix(expText, "-")
		digits := strings.TrimLeft(strings.TrimPrefix(expText, "-"), "0")
		if len(digits) > 10 {
			return false
		}
		e := 0
		if digits != "" {
			e, _ = strconv.Atoi(digits)
		}
		if e > maxExponent {
			return false
		}
		if neg {
			e = -e
		}
		exp = e
	}
	if max(0, len(frac)-exp) > maxNumericScale {
		return false
	}
	weight := 0
	switch {
	case strings.Trim(intPart, "0") != "":
		weight = len(intPart) - 1
	case strings.Trim(frac, "0") != "":
		weight = -(strings.IndexFunc(frac, func(r rune) bool { return r != '0' }) + 1)
	default:
		return true // zero
	}
	return weight+exp <= maxNumericWeight
}
