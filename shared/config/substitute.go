package config

import (
	"fmt"
	"regexp"
	"strings"
)

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// substitution is the outcome of expanding one string.
type substitution struct {
	value string
	// used lists the variables that were set and whose values went into
	// the result (not those that fell back to a default).
	used []string
}

// expand replaces ${NAME} and ${NAME:-default} in s with values from env.
// ${NAME:-default} takes the default when NAME is unset or empty; ${NAME}
// with NAME unset is an error. "$${" stands for a literal "${"; any other
// "$" is literal.
func expand(s string, env map[string]string) (substitution, error) {
	if !strings.Contains(s, "${") {
		return substitution{value: s}, nil
	}
	var out strings.Builder
	var used []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' { // "$${" → literal "${"
			out.WriteString(s[:i])
			out.WriteString("{")
			s = s[i+2:]
			continue
		}
		out.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return substitution{}, fmt.Errorf("unterminated %q (want ${NAME} or ${NAME:-default})", s[i:])
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDefault := strings.Cut(ref, ":-")
		if !varNameRE.MatchString(name) {
			return substitution{}, fmt.Errorf("invalid variable reference ${%s}: want ${NAME} or ${NAME:-default} with NAME of letters, digits and underscores", ref)
		}
		val, set := env[name]
		switch {
		case set && (val != "" || !hasDefault):
			out.WriteString(val)
			used = append(used, name)
		case hasDefault:
			out.WriteString(def)
		default:
			return substitution{}, fmt.Errorf("environment variable %s is not set and ${%s} has no default (write ${%s:-default} to give one)", name, name, name)
		}
	}
	return substitution{value: out.String(), used: used}, nil
}
