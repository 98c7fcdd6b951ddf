package deploycheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/worker"
)

// Kind is the type of a registered series, as far as the collector tells.
type Kind string

// The kinds of series. KindUnknown is a custom collector's series (the
// values read at scrape time), whose type only its Collect knows.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
	KindSummary   Kind = "summary"
	KindUnknown   Kind = "unknown"
)

// Metric is one registered metric family.
type Metric struct {
	Name   string
	Help   string
	Kind   Kind
	Labels []string // variable and constant labels, sorted
	Source string   // the package that registers it
}

// Registered returns every metric family the engine's processes export:
// the orchestration core, its REST layer, the worker, and the Go runtime
// and process collectors every process adds. It is built from the code's
// own collectors, so it cannot drift from what /metrics serves.
func Registered() (map[string]Metric, error) {
	out := map[string]Metric{}
	sources := []struct {
		name string
		cs   []prometheus.Collector
	}{
		{"orchestration", orchestration.MetricCollectors()},
		{"orchestration/web", web.MetricCollectors()},
		{"worker", worker.MetricCollectors()},
	}
	for _, src := range sources {
		if len(src.cs) == 0 {
			return nil, fmt.Errorf("package %s returned no metric collectors", src.name)
		}
		for _, c := range src.cs {
			kind := kindOf(c)
			for _, d := range describe(c) {
				m, err := parseDesc(d)
				if err != nil {
					return nil, fmt.Errorf("package %s: %w", src.name, err)
				}
				m.Kind, m.Source = kind, src.name
				if prev, dup := out[m.Name]; dup {
					return nil, fmt.Errorf("%s is registered by both %s and %s", m.Name, prev.Source, src.name)
				}
				out[m.Name] = m
			}
		}
	}
	// The runtime collectors' families all appear in a gather without any
	// activity (they have no variable labels to wait for).
	mfs, err := infra.NewMetricsRegistry().Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering the runtime collectors: %w", err)
	}
	for _, mf := range mfs {
		kind := Kind(strings.ToLower(mf.GetType().String()))
		var labels []string
		if ms := mf.GetMetric(); len(ms) > 0 {
			for _, lp := range ms[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		sort.Strings(labels)
		out[mf.GetName()] = Metric{Name: mf.GetName(), Help: mf.GetHelp(), Kind: kind, Labels: labels, Source: "runtime"}
	}
	return out, nil
}

func describe(c prometheus.Collector) []*prometheus.Desc {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	var ds []*prometheus.Desc
	for d := range ch {
		ds = append(ds, d)
	}
	return ds
}

func kindOf(c prometheus.Collector) Kind {
	switch c.(type) {
	case *prometheus.CounterVec:
		return KindCounter
	case *prometheus.GaugeVec:
		return KindGauge
	case *prometheus.HistogramVec:
		return KindHistogram
	case *prometheus.SummaryVec:
		return KindSummary
	}
	// A single series (counter, gauge, histogram, or a function of one)
	// tells its type by the value it writes.
	m, ok := c.(prometheus.Metric)
	if !ok {
		return KindUnknown
	}
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		return KindUnknown
	}
	switch {
	case pb.Counter != nil:
		return KindCounter
	case pb.Gauge != nil:
		return KindGauge
	case pb.Histogram != nil:
		return KindHistogram
	case pb.Summary != nil:
		return KindSummary
	}
	return KindUnknown
}

// descRE reads prometheus.Desc.String(), the only public view of a
// descriptor's name and labels.
var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", help: "((?:[^"\\]|\\.)*)", .*constLabels: \{(.*)\}, variableLabels: \{([^}]*)\}\}$`)

var constLabelRE = regexp.MustCompile(`(\w+)="`)

func parseDesc(d *prometheus.Desc) (Metric, error) {
	s := d.String()
	m := descRE.FindStringSubmatch(s)
	if m == nil {
		return Metric{}, fmt.Errorf("cannot read the metric descriptor %s (has prometheus.Desc.String changed?)", s)
	}
	var labels []string
	for _, c := range constLabelRE.FindAllStringSubmatch(m[3], -1) {
		labels = append(labels, c[1])
	}
	if m[4] != "" {
		for _, v := range strings.Split(m[4], ",") {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(v, "c("), ")"))
		}
	}
	sort.Strings(labels)
	return Metric{Name: m[1], Help: m[2], Labels: labels}, nil
}
