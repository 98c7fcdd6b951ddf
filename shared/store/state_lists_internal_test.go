package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStateListsMatchTheSchema: the lists written into statements are the
// ones the schema's partial indexes and checks name, so a change to
// shared/state that the schema does not follow (a new terminal state)
// fails here instead of silently losing the indexes' use.
func TestStateListsMatchTheSchema(t *testing.T) {
	require.Equal(t, "'complete', 'error', 'cancelled', 'resolved_manually'", terminalTaskStates)
	require.Equal(t, "'complete', 'cancelled', 'resolved_manually'", terminalStepStates)
	for _, m := range []string{"00001_schema.sql", "00003_finished_tasks_index.sql", "00011_hot_updates.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", m))
		require.NoError(t, err)
		require.Contains(t, string(b), "IN ("+terminalTaskStates+")", m)
	}
}
