package domainevent

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts domain events per event name. One Metrics serves every
// Bus and Consumer of a process; a nil *Metrics counts nothing.
type Metrics struct {
	published *prometheus.CounterVec
	delivered *prometheus.CounterVec
}

// NewMetrics registers the domain event counters with reg (nil: counted
// but not exported):
//
//	tasker_domain_events_published_total{event_name, delivery_mode}
//	tasker_domain_events_delivered_total{event_name, via, outcome}
//
// via is "fast" (in-process bus) or "durable" (queue consumer); outcome is
// ok, failed, dropped or dead_lettered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_domain_events_published_total",
			Help: "Domain events published with a committed step result, by event name and delivery mode.",
		}, []string{"event_name", "delivery_mode"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tasker_domain_events_delivered_total",
			Help: "Domain event deliveries to subscribers, by event name, path (fast or durable) and outcome.",
		}, []string{"event_name", "via", "outcome"}),
	}
	if reg != nil {
		for _, c := range []**prometheus.CounterVec{&m.published, &m.delivered} {
			if err := reg.Register(*c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
				existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
				if !ok {
					return nil, err
				}
				*c = existing // a second Metrics of the process counts into the first
			}
		}
	}
	return m, nil
}

// Published counts committed events.
func (m *Metrics) Published(events []Event) {
	if m == nil {
		return
	}
	for _, e := range events {
		m.published.WithLabelValues(e.EventName, e.Metadata.DeliveryMode).Inc()
	}
}

func (m *Metrics) delivery(name, via, outcome string) {
	if m == nil {
		return
	}
	m.delivered.WithLabelValues(name, via, outcome).Inc()
}

// DeliveredCounter is the delivery counter of one event name, path and
// outcome (for tests and dashboards built in code).
func (m *Metrics) DeliveredCounter(name, via, outcome string) prometheus.Counter {
	return m.delivered.WithLabelValues(name, via, outcome)
}

// PublishedCounter is the publication counter of one event name and
// delivery mode.
func (m *Metrics) PublishedCounter(name, mode string) prometheus.Counter {
	return m.published.WithLabelValues(name, mode)
}
