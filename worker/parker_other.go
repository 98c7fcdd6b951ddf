//go:build !linux

package worker

import (
	"runtime"
	"sync"
)

// parker puts a goroutine to sleep until another wakes it (on Linux, a
// futex: see parker_linux.go). Make it with newParker.
type parker struct {
	ch   chan struct{}
	once sync.Once
}

func newParker() parker { return parker{ch: make(chan struct{})} }

// wait blocks until wake has been called (at once if it already was).
func (p *parker) wait() { <-p.ch }

// wake ends wait, now or before it starts; a second call does nothing.
func (p *parker) wake() { p.once.Do(func() { close(p.ch) }) }

// woken reports whether wake has been called.
func (p *parker) woken() bool {
	select {
	case <-p.ch:
		return true
	default:
		return false
	}
}

// spinPause is one round of a spinning wait.
func spinPause() { runtime.Gosched() }
