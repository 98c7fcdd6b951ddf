package wasm

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tasker-go/tasker/worker"
)

// watcher notices modules added to, replaced on or removed from the module
// paths while the executor runs, so that a worker routes the steps of new
// callables to itself (and stops claiming those of removed ones) without a
// restart. It starts on the first CallablesChanged call and stops with
// Close.
type watcher struct {
	start sync.Once
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed when the served callables changed
}

func newWatcher() *watcher {
	return &watcher{stop: make(chan struct{}), done: make(chan struct{}), changed: make(chan struct{})}
}

var _ worker.CallableWatcher = (*Executor)(nil)

// CallablesChanged returns a channel that is closed when the callables the
// executor serves (Callables) changed: a module was added to or removed
// from the module paths, or replaced by a version exporting other
// handlers. The module paths are looked at every ReloadInterval (a
// directory listing and a stat per module; a changed module is compiled
// then), from the first call on. Call it again after the channel closed
// for the next change.
func (x *Executor) CallablesChanged() <-chan struct{} {
	w := x.watch
	w.start.Do(func() {
		// The files first, then what they serve: a change in between
		// shows in the next look at the files.
		files := x.fingerprint()
		served, _ := x.ListCallables(context.Background())
		go x.watchLoop(files, served)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// watchLoop looks at the module paths every ReloadInterval until Close.
func (x *Executor) watchLoop(last string, served []string) {
	w := x.watch
	defer close(w.done)
	t := time.NewTicker(x.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		fp := x.fingerprint()
		if fp == last {
			continue
		}
		last = fp
		// Look at every module file again now, not only after its own
		// ReloadInterval: a replaced module may export other handlers.
		x.expireChecks()
		now, err := x.ListCallables(context.Background())
		if err != nil {
			x.log.Warn("wasm: some modules do not load; their callables are not served", "err", err)
		}
		if slices.Equal(now, served) {
			continue
		}
		x.log.Info("wasm: the served callables changed", "callables", len(now))
		served = now
		w.mu.Lock()
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// stopWatching ends the watch loop, if it runs.
func (w *watcher) stopWatching() {
	w.start.Do(func() { close(w.done) }) // never started: nothing to wait for
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// fingerprint summarises the module files on the paths (names, sizes,
// modification times): it changes when a module is added, replaced or
// removed.
func (x *Executor) fingerprint() string {
	var b strings.Builder
	for _, dir := range x.cfg.ModulePaths {
		b.WriteString(dir)
		b.WriteByte(0)
		entries, err := os.ReadDir(dir)
		if err != nil {
			b.WriteString("!" + err.Error())
			continue
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".wasm") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			b.WriteString(e.Name())
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(fi.ModTime().UnixNano(), 10))
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(fi.Size(), 10))
			b.WriteByte(0)
		}
	}
	return b.String()
}

// expireChecks makes the next use of every loaded module look at its file.
func (x *Executor) expireChecks() {
	x.mu.Lock()
	mods := make([]*module, 0, len(x.modules))
	for _, m := range x.modules {
		mods = append(mods, m)
	}
	x.mu.Unlock()
	for _, m := range mods {
		m.mu.Lock()
		m.checked = time.Time{}
		m.mu.Unlock()
	}
}
