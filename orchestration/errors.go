package orchestration

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/shared/store"
)

// Sentinel errors. The REST layer maps them (and the store's) to HTTP codes in
// one place.
var (
	// ErrTemplateNotFound: no registered template matches the request.
	ErrTemplateNotFound = errors.New("task template not found")
	// ErrBackpressure: the system is too busy to take new tasks now.
	ErrBackpressure = errors.New("backpressure")
	// ErrUnsupported: the request is well formed but needs a feature this
	// version does not have (for example a template with decision or batch
	// steps).
	ErrUnsupported = errors.New("not supported by this version")
	// ErrNotFound, ErrConflict and ErrInvalidState are the store's.
	ErrNotFound     = store.ErrNotFound
	ErrConflict     = store.ErrConflict
	ErrInvalidState = store.ErrInvalidState
)

// FieldError is one problem with a request, located by a JSON pointer.
type FieldError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// ValidationError lists everything wrong with a request.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		p := fe.Pointer
		if p == "" {
			p = "/"
		}
		parts[i] = p + ": " + fe.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(pointer, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Pointer: pointer, Message: fmt.Sprintf(format, args...)})
}

func (e *ValidationError) err() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}
