package store

// SetPredictions turns a store's completion predictions on (a fresh
// graph cache) or off, for benchmarks that compare the two.
func SetPredictions(s *Store, on bool) {
	if on {
		s.graphs = newGraphCache()
	} else {
		s.graphs = nil
	}
}
