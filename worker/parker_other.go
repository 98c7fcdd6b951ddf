//go:build !linux

package worker

import "sync"

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
