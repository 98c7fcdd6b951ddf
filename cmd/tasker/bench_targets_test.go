package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckTargets(t *testing.T) {
	xacts := 0.55
	r := &benchReport{
		Latency: map[string]*latencyResult{
			"linear4": {ClientMS: &percentiles{N: 200, P50: 24.5, P99: 61}},
			"dag7":    {ClientMS: &percentiles{N: 200, P50: 41}},
		},
		Creation:   &percentiles{N: 800, P50: 2.2},
		Throughput: &throughputResult{StepsPerSec: 1355, DBXactsPerStep: &xacts},
	}
	got := map[string]string{}
	for _, c := range checkTargets(r) {
		got[c.Measure] = c.Verdict
	}
	require.Equal(t, map[string]string{
		"linear4 p50":           "met",
		"linear4 p99":           "not met",
		"dag7 p50":              "not met",
		"task creation p50":     "met",
		"throughput":            "floor met",
		"transactions per step": "met",
	}, got, "scenarios that did not run are left out")

	r.Throughput.StepsPerSec = 900
	r.Latency, r.Creation = nil, nil
	checks := checkTargets(r)
	require.Equal(t, "not met", checks[0].Verdict, "below the seed's floor")
	r.Throughput.StepsPerSec = 5200
	require.Equal(t, "met", checkTargets(r)[0].Verdict)
}
