package config

import (
	"fmt"
	"time"
)

// Backoff is the [backoff] section: retry settings that apply on top of
// every step's own retry policy. The shape, base and cap of a step's backoff
// come from its template's retry block (backoff, backoff_base_ms,
// max_backoff_ms, with the template package's defaults when a step sets
// none); this section only jitters the computed delay and caps the delay a
// handler asks for.
type Backoff struct {
	// Jitter spreads retries by a random amount so that steps that failed
	// together do not retry together. A step's delay is jittered only when
	// both this and the step's retry.jitter are on. Default true.
	Jitter bool `toml:"jitter"`
	// JitterMaxFraction is the largest jitter as a fraction of the delay
	// (added or subtracted), in [0, 1). Default 0.15.
	JitterMaxFraction float64 `toml:"jitter_max_fraction"`
	// RetryAfterCap caps a delay a handler asks for (a Retry-After value
	// or backoff hint), which otherwise replaces the computed delay.
	// Default 5m (test 5s).
	RetryAfterCap time.Duration `toml:"retry_after_cap"`
}

func defaultBackoff() Backoff {
	return Backoff{
		Jitter:            true,
		JitterMaxFraction: 0.15,
		RetryAfterCap:     5 * time.Minute,
	}
}

// Validate checks the section; see [Problems].
func (b *Backoff) Validate() error {
	var ps Problems
	if !(b.JitterMaxFraction >= 0 && b.JitterMaxFraction < 1) { // also rejects NaN
		ps.add("jitter_max_fraction", fmt.Sprintf("must be at least 0 and below 1, got %g", b.JitterMaxFraction))
	}
	ps.durationAtLeast("retry_after_cap", b.RetryAfterCap, 0)
	return ps.Err()
}
