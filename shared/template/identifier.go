package template

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// identifierProblem says what makes s unfit for a name-like field (template
// name and version, step name, handler callable, method and resolver, event
// name), or "" when s is fine. tasker-core bounds only the length of these
// fields (and the characters of namespace_name); we also require printable
// text: they are stored as PostgreSQL text, which cannot hold NUL, printed in
// logs, terminals and Mermaid diagrams, and matched exactly, so invisible or
// surrounding characters would only make two names look alike.
//
// The rule: valid UTF-8, no control character (U+0000 to U+001F, U+007F to
// U+009F: NUL, tab, newline…), no invisible format character (such as
// U+200B zero-width space or U+202E right-to-left override), and no white
// space at either end. Positions count characters from 1.
func identifierProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	pos := 0
	for _, r := range s {
		pos++
		switch {
		case r == 0:
			return fmt.Sprintf("contains a NUL character (\\u0000) at character %d, which PostgreSQL cannot store", pos)
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U at character %d", r, pos)
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("contains the invisible character %U at character %d", r, pos)
		}
	}
	if strings.TrimFunc(s, unicode.IsSpace) != s {
		return "must not begin or end with white space"
	}
	return ""
}

// keyPartProblem adds the rule for the template name and version: they are
// joined by "/" into the template's key (namespace/name/version) and its REST
// path (/v1/templates/{namespace}/{name}/{version}), so a "/" in either
// would make two templates indistinguishable.
func keyPartProblem(s string) string {
	if p := identifierProblem(s); p != "" {
		return p
	}
	if strings.Contains(s, "/") {
		return `must not contain "/" (it separates namespace, name and version in the template's key and REST path)`
	}
	return ""
}
