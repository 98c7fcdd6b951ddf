package messaging_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
)

func TestParseResultMessage(t *testing.T) {
	const task, step = "0190f1a2-0000-7000-8000-000000000000", "0190f1a2-0000-7000-8000-000000000001"
	m, ok := messaging.ParseResultMessage([]byte(`{"task_uuid":"` + task + `","step_uuid":"` + step + `","attempt":2}`))
	require.True(t, ok)
	require.Equal(t, step, m.StepUUID.String())
	require.Equal(t, 2, m.Attempt)
	for _, bad := range []string{``, `[]`, `{"step_uuid":"nope"}`, `{"task_uuid":"` + task + `"}`, `{"step_uuid":"` + step + `"}`} {
		_, ok := messaging.ParseResultMessage([]byte(bad))
		require.False(t, ok, bad)
	}
}
