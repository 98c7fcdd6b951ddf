package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssSampler follows the resident memory of processes measured from the
// outside (--url mode): it reads process_resident_memory_bytes from their
// Prometheus /metrics every interval and keeps the highest value of each.
type rssSampler struct {
	targets  map[string]string // name → metrics URL
	interval time.Duration
	client   *http.Client

	mu   sync.Mutex
	peak map[string]float64 // MB; absent when never read
	errs map[string]error

	cancel context.CancelFunc
	done   chan struct{}
}

func newRSSSampler(targets map[string]string, interval time.Duration) *rssSampler {
	return &rssSampler{targets: targets, interval: interval, client: &http.Client{Timeout: 2 * time.Second},
		peak: map[string]float64{}, errs: map[string]error{}}
}

// Start samples until Stop.
func (s *rssSampler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			s.sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop takes a last sample and returns the peaks in MB by target name, and
// the last error of each target that was never read.
func (s *rssSampler) Stop(ctx context.Context) (map[string]float64, map[string]error) {
	s.cancel()
	<-s.done
	s.sample(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := map[string]error{}
	for name, err := range s.errs {
		if _, ok := s.peak[name]; !ok {
			errs[name] = err
		}
	}
	return s.peak, errs
}

func (s *rssSampler) sample(ctx context.Context) {
	for name, url := range s.targets {
		mb, err := readRSS(ctx, s.client, url)
		s.mu.Lock()
		if err != nil {
			s.errs[name] = err
		} else if mb > s.peak[name] {
			s.peak[name] = mb
		}
		s.mu.Unlock()
	}
}

// readRSS reads process_resident_memory_bytes (in MB) from a Prometheus
// text exposition.
func readRSS(ctx context.Context, c *http.Client, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			b, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: process_resident_memory_bytes: %w", url, err)
			}
			return b / (1 << 20), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no process_resident_memory_bytes", url)
}

// applyRSS stops the sampler and records what it saw in res.
func applyRSS(ctx context.Context, res *throughputResult, s *rssSampler) {
	peaks, errs := s.Stop(ctx)
	res.PeakRSSMB = round2(peaks["orchestration"])
	note := "orchestration server, sampled from its /metrics every 100 ms"
	if w, ok := peaks["worker"]; ok {
		w = round2(w)
		res.WorkerPeakRSSMB = &w
		note = "orchestration server and worker, sampled from their /metrics every 100 ms"
	} else if _, asked := s.targets["worker"]; !asked {
		note += "; pass --worker-url for the worker's"
	}
	for name, err := range errs {
		note += fmt.Sprintf("; %s not read: %v", name, err)
	}
	res.RSSNote = note
}
