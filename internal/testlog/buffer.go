// Package testlog holds what tests use to read a component's log output.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer collects log output written from many goroutines while a test
// reads it: a bytes.Buffer behind a mutex. Its zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
