package riverbench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSplit samples this process's RssAnon and RssFile over the throughput
// scenario and keeps the highest of each, so that the peak RSS can be
// split into the process's own memory (anonymous: Go heap, stacks,
// runtime) and the resident pages of its binary and libraries
// (file-backed), which follow the size of the binary rather than the load.
type rssSplit struct {
	mu         sync.Mutex
	anon, file int64 // kB

	stopc, done chan struct{}
}

// rssSplitInterval is how often rssSplit samples (as tasker bench does).
const rssSplitInterval = 50 * time.Millisecond

func startRSSSplit(interval time.Duration) *rssSplit {
	s := &rssSplit{stopc: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

// stop takes a last sample and returns the peaks in MiB (0 when
// /proc/self/status has no such lines).
func (s *rssSplit) stop() (anonMB, fileMB float64) {
	close(s.stopc)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return round(float64(s.anon)/1024, 1), round(float64(s.file)/1024, 1)
}

func (s *rssSplit) sample() {
	anon, file := statusKB("RssAnon:"), statusKB("RssFile:")
	s.mu.Lock()
	s.anon, s.file = max(s.anon, anon), max(s.file, file)
	s.mu.Unlock()
}

// statusKB reads one kB line of /proc/self/status (0 when absent).
func statusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			fields := strings.Fields(v)
			if len(fields) == 2 && fields[1] == "kB" {
				n, _ := strconv.ParseInt(fields[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
