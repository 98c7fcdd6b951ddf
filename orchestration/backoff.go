package orchestration

import (
	"math"
	"math/rand/v2"
	"time"
)

// BackoffPolicy is how long to wait before the next attempt of a step.
type BackoffPolicy struct {
	// Strategy is none, linear, exponential or fibonacci.
	Strategy string
	Base     time.Duration
	Max      time.Duration
	// Jitter spreads delays by up to ±JitterFraction so retries of many steps
	// that failed together do not all come back at once.
	Jitter         bool
	JitterFraction float64
}

// maxDelay keeps an uncapped delay from overflowing time.Duration.
const maxDelay = float64(1 << 62)

// Delay returns the wait before attempt+1, after attempt attempts (1-based).
// linear waits base×attempt, exponential base×2^(attempt−1), fibonacci
// base×fib(attempt) (1, 1, 2, 3, 5, …), none zero; all capped at Max.
func (p BackoffPolicy) Delay(attempt int, rnd func() float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	base := float64(p.Base)
	var d float64
	switch p.Strategy {
	case "none":
		return 0
	case "linear":
		d = base * float64(attempt)
	case "fibonacci":
		a, b := 1.0, 1.0
		for i := 1; i < attempt && b < math.MaxFloat64/2; i++ {
			a, b = b, a+b
		}
		d = base * a
	default: // exponential
		d = base * math.Pow(2, float64(min(attempt-1, 62)))
	}
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	if p.Jitter && p.JitterFraction > 0 {
		if rnd == nil {
			rnd = rand.Float64
		}
		d += d * p.JitterFraction * (2*rnd() - 1)
	}
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	return time.Duration(min(max(d, 0), maxDelay))
}
