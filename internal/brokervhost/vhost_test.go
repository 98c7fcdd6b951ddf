package brokervhost_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/brokervhost"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const base = "amqp://guest:guest@127.0.0.1:5672/"

// TestCreateAndDelete: the virtual host exists and is usable through its
// URL until Delete, after which connecting to it is refused.
func TestCreateAndDelete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := brokervhost.Reachable(ctx, base); err != nil {
		if os.Getenv("TASKER_REQUIRE_RABBITMQ") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	v, err := brokervhost.Create(ctx, base, "tasker_vhosttest_")
	if errors.Is(err, brokervhost.ErrNoRabbitmqctl) && os.Getenv("TASKER_REQUIRE_RABBITMQ") == "" {
		t.Skip(err)
	}
	require.NoError(t, err)
	require.Regexp(t, `^tasker_vhosttest_[0-9a-f]{12}$`, v.Name)
	require.Equal(t, "amqp://guest:guest@127.0.0.1:5672/"+v.Name, v.URL)

	conn, err := amqp.Dial(v.URL)
	require.NoError(t, err, "the user of the base URL may use the new virtual host")
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q", false, true, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	require.NoError(t, v.Delete(ctx))
	_, err = amqp.Dial(v.URL)
	require.Error(t, err, "the virtual host is gone")
}

func TestBadURL(t *testing.T) {
	_, err := brokervhost.Create(context.Background(), "postgres://127.0.0.1/x", "p_")
	require.ErrorContains(t, err, `RabbitMQ URL "postgres://127.0.0.1/x"`)
	require.Error(t, brokervhost.Reachable(context.Background(), "amqp://127.0.0.1:1/"))
}
