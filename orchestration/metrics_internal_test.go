package orchestration

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// TestMetricsRegistration: a registration that fails is reported (it used
// to be dropped, leaving the series missing from /metrics), and a second
// Core on the same registry shares the first one's series.
func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tasker_tasks_purged_total", Help: "something else"}))
	_, err := newMetrics(reg)
	require.ErrorContains(t, err, "tasker_tasks_purged_total")

	reg = prometheus.NewRegistry()
	first, err := newMetrics(reg)
	require.NoError(t, err)
	second, err := newMetrics(reg)
	require.NoError(t, err)
	second.purged.Inc()
	var m dto.Metric
	require.NoError(t, first.purged.Write(&m))
	require.Equal(t, 1.0, m.GetCounter().GetValue())
}
