package orchestration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffStrategies(t *testing.T) {
	base := 100 * time.Millisecond
	cases := []struct {
		strategy string
		want     []time.Duration // attempts 1..6
	}{
		{"none", []time.Duration{0, 0, 0, 0, 0, 0}},
		{"linear", []time.Duration{100, 200, 300, 400, 500, 600}},
		{"exponential", []time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"fibonacci", []time.Duration{100, 100, 200, 300, 500, 800}},
	}
	for _, c := range cases {
		t.Run(c.strategy, func(t *testing.T) {
			p := BackoffPolicy{Strategy: c.strategy, Base: base, Max: time.Second}
			for i, w := range c.want {
				require.Equal(t, w*time.Millisecond, p.Delay(i+1, nil), "attempt %d", i+1)
			}
		})
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	p := BackoffPolicy{Strategy: "exponential", Base: time.Second, Max: time.Minute, Jitter: true, JitterFraction: 0.15}
	require.Equal(t, 850*time.Millisecond, p.Delay(1, func() float64 { return 0 }))
	require.Equal(t, 1150*time.Millisecond, p.Delay(1, func() float64 { return 1 }))
	require.Equal(t, time.Minute, p.Delay(20, func() float64 { return 1 }), "jitter never exceeds the cap")
	for range 1000 {
		d := p.Delay(3, nil)
		require.GreaterOrEqual(t, d, 3400*time.Millisecond)
		require.LessOrEqual(t, d, 4600*time.Millisecond)
	}
	require.Equal(t, time.Duration(0), BackoffPolicy{Strategy: "linear"}.Delay(0, nil))
	huge := BackoffPolicy{Strategy: "exponential", Base: time.Hour, Max: 0}
	require.Positive(t, huge.Delay(100, nil), "no overflow without a cap")
}
