package orchestration

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/store"
)

// TestStaleActionFor: the template's lifecycle decides over the
// configuration, and its auto_* flags over its action.
func TestStaleActionFor(t *testing.T) {
	yes, no := true, false
	both := store.StaleAction{DLQ: true, Fail: true}
	for _, c := range []struct {
		name       string
		configured config.StalenessAction
		st         store.StaleTask
		want       store.StaleAction
	}{
		{"configured dlq", config.StalenessDLQ, store.StaleTask{}, both},
		{"configured error", config.StalenessError, store.StaleTask{}, store.StaleAction{Fail: true}},
		{"configured none", config.StalenessNone, store.StaleTask{}, store.StaleAction{}},
		{"template none wins", config.StalenessDLQ, store.StaleTask{StalenessAction: "none"}, store.StaleAction{}},
		{"template dlq wins", config.StalenessNone, store.StaleTask{StalenessAction: "dlq"}, both},
		{"unknown template action ignored", config.StalenessError, store.StaleTask{StalenessAction: "explode"},
			store.StaleAction{Fail: true}},
		{"auto_fail off: flag only", config.StalenessDLQ, store.StaleTask{AutoFail: &no}, store.StaleAction{DLQ: true}},
		{"auto_dlq off: fail only", config.StalenessDLQ, store.StaleTask{AutoDLQ: &no}, store.StaleAction{Fail: true}},
		{"auto flags on over none", config.StalenessDLQ, store.StaleTask{StalenessAction: "none", AutoDLQ: &yes, AutoFail: &yes}, both},
	} {
		require.Equal(t, c.want, staleActionFor(c.configured, c.st), c.name)
	}
}
