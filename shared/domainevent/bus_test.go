package domainevent_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/domainevent"
)

func event(name, mode string) domainevent.Event {
	return domainevent.Event{EventID: uuid.New(), EventName: name, EventVersion: domainevent.Version,
		Payload: []byte(`{}`), Metadata: domainevent.Metadata{Namespace: "ns", DeliveryMode: mode}}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "a.b", true}, {"a.b", "a.b", true}, {"a.b", "a.c", false},
		{"a.*", "a.b", true}, {"a.*", "ab.c", false}, {"a.*", "a", false},
	} {
		require.Equal(t, c.want, domainevent.Matches(c.pattern, c.name), "%s ~ %s", c.pattern, c.name)
	}
}

// TestBusDeliversFastEvents: subscribers get the fast and broadcast events
// that match their pattern, in order; durable-only events are not theirs; a
// failing or panicking subscriber does not stop the others; Close delivers
// what is buffered; metrics count per event name.
func TestBusDeliversFastEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := domainevent.NewMetrics(reg)
	require.NoError(t, err)
	b := domainevent.NewBus(domainevent.BusConfig{Metrics: m})
	var mu sync.Mutex
	var got []string
	b.Subscribe("payment.*", func(_ context.Context, e domainevent.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e.EventName)
		return nil
	})
	b.Subscribe("payment.failed", func(context.Context, domainevent.Event) error { return errors.New("no") })
	b.Subscribe("payment.failed", func(context.Context, domainevent.Event) error { panic("boom") })
	off := b.Subscribe("*", func(context.Context, domainevent.Event) error {
		t.Error("unsubscribed handler called")
		return nil
	})
	off()
	require.Zero(t, b.Publish([]domainevent.Event{
		event("payment.processed", "fast"), event("payment.durable", "durable"),
		event("payment.failed", "broadcast"), event("order.validated", "fast"),
	}))
	b.Close()
	require.Equal(t, []string{"payment.processed", "payment.failed"}, got)
	require.Equal(t, 1, b.Publish([]domainevent.Event{event("late", "fast")}), "a closed bus drops")
	require.InDelta(t, 2, counterValue(t, m.DeliveredCounter("payment.failed", "fast", "failed")), 0)
	require.InDelta(t, 1, counterValue(t, m.DeliveredCounter("payment.failed", "fast", "ok")), 0)
	require.InDelta(t, 1, counterValue(t, m.DeliveredCounter("late", "fast", "dropped")), 0)
}

// TestBusDropsWhenFull: publishing never blocks on a slow subscriber.
func TestBusDropsWhenFull(t *testing.T) {
	b := domainevent.NewBus(domainevent.BusConfig{Buffer: 1})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	b.Subscribe("*", func(context.Context, domainevent.Event) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	b.Publish([]domainevent.Event{event("a", "fast")})
	<-started // the loop holds "a"; the buffer is empty again
	require.Zero(t, b.Publish([]domainevent.Event{event("b", "fast")}))
	require.Equal(t, 1, b.Publish([]domainevent.Event{event("c", "fast")}))
	close(release)
	b.Close()
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
