package template

import (
	"fmt"
	"strings"
)

// Error is one problem found in a template file: a YAML syntax error, a
// decoding error (wrong type, unknown key) or a validation error.
type Error struct {
	File    string // file name as given to Parse; may be empty
	Line    int    // 1-based source line; 0 when unknown
	Field   string // field path such as "steps[2].retry.max_attempts"; may be empty
	Message string
	Err     error // underlying cause, if any
}

// Error formats the problem as "file:line: field: message", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ValidationErrors is every problem found in one or more template files. It
// is the error type returned by Parse, ParseFile, LoadPaths and Validate.
type ValidationErrors []*Error

// Error joins the problems, one per line.
func (v ValidationErrors) Error() string {
	lines := make([]string, len(v))
	for i, e := range v {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (v ValidationErrors) Unwrap() []error {
	errs := make([]error, len(v))
	for i, e := range v {
		errs[i] = e
	}
	return errs
}

// err returns v as an error, or nil when there is no problem.
func (v ValidationErrors) err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}
