package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// selfRSS follows this process's resident memory over the throughput
// scenario of --embedded. It resets the kernel's high-water mark (VmHWM) at
// the start, as the River baseline does before its own throughput
// scenario, so that both peaks cover the same part of the run; and it
// samples RssAnon and RssFile, so that the peak can be split into the
// process's own memory (anonymous: Go heap, stacks, runtime) and the
// resident pages of its executable and libraries (file-backed), which
// follow the size of the binary rather than the load.
type selfRSS struct {
	interval time.Duration
	reset    bool

	mu         sync.Mutex
	anon, file int64 // highest RssAnon and RssFile seen (kB)

	stopc chan struct{}
	done  chan struct{}
}

// selfRSSInterval is how often the embedded bench samples its RSS.
const selfRSSInterval = 50 * time.Millisecond

// selfRSSPeak is what a selfRSS saw, in MB.
type selfRSSPeak struct {
	// HWM is VmHWM: since the reset when Reset, else since the start.
	HWM   float64
	Reset bool
	// Anon and File are the highest RssAnon and RssFile sampled; each
	// may have peaked at another moment than the other, and between
	// samples.
	Anon, File float64
}

// startSelfRSS resets VmHWM and samples every interval until stop.
func startSelfRSS(interval time.Duration) *selfRSS {
	s := &selfRSS{interval: interval, stopc: make(chan struct{}), done: make(chan struct{})}
	s.reset = resetPeakRSS()
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

// stop takes a last sample and returns the peaks.
func (s *selfRSS) stop() selfRSSPeak {
	close(s.stopc)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := func(kb int64) float64 { return round2(float64(kb) / 1024) }
	return selfRSSPeak{HWM: peakRSSMB(), Reset: s.reset, Anon: mb(s.anon), File: mb(s.file)}
}

// sample reads RssAnon and RssFile once.
func (s *selfRSS) sample() {
	anon := procKB("/proc/self/status", "RssAnon:")
	file := procKB("/proc/self/status", "RssFile:")
	s.mu.Lock()
	s.anon, s.file = max(s.anon, anon), max(s.file, file)
	s.mu.Unlock()
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux 4.0
// and later); false when it could not.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// note describes the figures for the report.
func (p selfRSSPeak) note(interval time.Duration) string {
	scope := "VmHWM since the throughput scenario began"
	if !p.Reset {
		scope = "VmHWM over the whole process (could not reset it)"
	}
	return fmt.Sprintf("%s; anonymous (heap, stacks, runtime) ≤ %.1f MB and file-backed (the binary's pages) ≤ %.1f MB, sampled every %s",
		scope, p.Anon, p.File, interval)
}
