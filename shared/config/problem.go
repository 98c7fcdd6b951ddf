package config

import (
	"errors"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Source is where the offending value came from: a file path, an
	// environment variable ("environment variable TASKER__WEB__PORT"), or
	// empty for a built-in default or a value set in code.
	Source string
	// Key is the dotted key path, e.g. "database.pool.max_connections".
	// It is empty for problems that concern a whole file or the options.
	Key string
	// Message says what is wrong, e.g. `must be at least 1, got 0`.
	Message string
	// Unknown marks a key that the configuration does not have (a typo,
	// or a section of another context). Its Message names the key.
	Unknown bool
}

// Error renders the problem as "source: key: message", leaving out the parts
// that are empty; for an unknown key, as `source: unknown key "a.b"`.
func (p Problem) Error() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		b.WriteString(": ")
	}
	if p.Key != "" && !p.Unknown {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found while loading or validating a
// configuration. It is the error type returned by [Load] and by each
// Validate method; use errors.As to get at the individual problems.
type Problems []Problem

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are no problems.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// add records a problem about key (relative to the struct being validated).
func (ps *Problems) add(key, message string) {
	*ps = append(*ps, Problem{Key: key, Message: message})
}

// nest adds the problems of a nested section's Validate, prefixing their
// keys with the section's key.
func (ps *Problems) nest(section string, err error) {
	if err == nil {
		return
	}
	var sub Problems
	if !errors.As(err, &sub) {
		*ps = append(*ps, Problem{Key: section, Message: err.Error()})
		return
	}
	for _, p := range sub {
		p.Key = joinKey(section, p.Key)
		*ps = append(*ps, p)
	}
}

// joinKey joins two dotted key paths, either of which may be empty.
func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}
