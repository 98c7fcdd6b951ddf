package messaging

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidateQueueName(t *testing.T) {
	for _, ok := range []string{"a", "_x", "worker_payments_queue", "Mixed_Case_9", strings.Repeat("q", MaxQueueNameLen)} {
		require.NoError(t, ValidateQueueName(ok), ok)
	}
	for _, bad := range []string{"", "9lives", "has-dash", "has space", `q"; drop`, "é", strings.Repeat("q", MaxQueueNameLen+1)} {
		err := ValidateQueueName(bad)
		require.True(t, errors.Is(err, ErrInvalidQueueName), bad)
		require.Contains(t, err.Error(), "letters, digits or underscores")
	}
	require.Equal(t, "worker_payments_queue", WorkerQueue("payments"))
}
