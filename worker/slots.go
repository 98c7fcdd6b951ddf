package worker

import "sync"

// slots bounds how many handlers run at once. The limit moves between a
// floor and a ceiling (adaptive concurrency); claim loops reserve slots
// before claiming, so the worker never claims a step it cannot start now.
type slots struct {
	mu      sync.Mutex
	limit   int
	inUse   int           // reserved by claim rounds or held by running handlers
	running int           // held by running handlers
	peak    int           // most handlers running at once since the last takePeak
	changed chan struct{} // closed and replaced whenever a slot frees or the limit grows
}

func newSlots(limit int) *slots {
	return &slots{limit: limit, changed: make(chan struct{})}
}

// reserve takes up to n free slots and returns how many it took, with a
// channel that is closed the next time capacity may have freed up.
func (s *slots) reserve(n int) (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := max(min(n, s.limit-s.inUse), 0)
	s.inUse += got
	return got, s.changed
}

// settle ends a claim round that reserved slots and started claimed
// handlers on them: it gives back the rest. Only running handlers count as
// use for the peak, so an idle worker's polls do not look like load.
func (s *slots) settle(reserved, claimed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if unused := reserved - claimed; unused > 0 {
		s.inUse -= unused
		s.signal()
	}
	s.running += claimed
	s.peak = max(s.peak, s.running)
}

// done gives back the slot of a handler that finished.
func (s *slots) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse--
	s.running--
	s.signal()
}

// setLimit changes the limit; running handlers above a lowered limit finish
// normally, and no new ones start until usage is below it.
func (s *slots) setLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	grew := n > s.limit
	s.limit = n
	if grew {
		s.signal()
	}
}

func (s *slots) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot returns the limit and slots in use.
func (s *slots) snapshot() (limit, inUse int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit, s.inUse
}

// saturation is the share of ceiling taken by running handlers (0 when the
// ceiling is not positive). It is measured against the ceiling rather than
// the current adaptive limit: a worker whose limit can still grow is not
// saturated, so scaling out on this value waits until adaptive concurrency
// has nothing left to give.
func (s *slots) saturation(ceiling int) float64 {
	if ceiling <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.running) / float64(ceiling)
}

// takePeak returns the most handlers running at once since the last call
// and resets it to the handlers running now.
func (s *slots) takePeak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = s.running
	return p
}
