package rabbitmq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/rabbitmq"
)

// TestMissingRouteIsNotAskedAgainAtOnce: a route queue the broker said was
// missing is taken as missing until the recheck interval passed (a worker
// serving many callables would otherwise pay three round trips per
// callable without a queue on every sweep); after it, the broker is asked
// again and a queue declared meanwhile is found.
func TestMissingRouteIsNotAskedAgainAtOnce(t *testing.T) {
	c := newClient(t, nil)
	other := newClient(t, nil)
	ctx := testCtx(t)
	q := newQueue(t, c)
	name := rabbitmq.RouteQueue(q, "handlers.late")

	found, err := rabbitmq.RouteExists(c, ctx, q, name, time.Hour)
	require.NoError(t, err)
	require.False(t, found)

	declared, err := other.DeclareRoute(ctx, q, "handlers.late")
	require.NoError(t, err)
	require.Equal(t, name, declared)

	found, err = rabbitmq.RouteExists(c, ctx, q, name, time.Hour)
	require.NoError(t, err)
	require.False(t, found, "missing a moment ago: the broker is not asked again yet")

	found, err = rabbitmq.RouteExists(c, ctx, q, name, 0)
	require.NoError(t, err)
	require.True(t, found, "past the recheck interval the broker is asked, and the queue is there")
}
