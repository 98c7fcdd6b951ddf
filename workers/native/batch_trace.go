package native

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tasker-go/tasker/worker"
)

// The batch handlers can record every item they process, one line
// "{step_name} {cursor}" per item in {dir}/{task_uuid}.trace, so tests
// that kill a worker mid-batch can count how often each item ran. Off
// unless TraceItemsTo names a directory (tasker-worker does so when
// TASKER_EXAMPLE_ITEM_TRACE_DIR is set).
var itemTrace struct {
	mu  sync.Mutex
	dir string
}

// TraceItemsTo makes the batch handlers record each item they process in
// dir (empty: stop recording).
func TraceItemsTo(dir string) {
	itemTrace.mu.Lock()
	itemTrace.dir = dir
	itemTrace.mu.Unlock()
}

// traceItem records that the step processed the item at cursor pos.
func traceItem(sc *worker.StepContext, pos int64) error {
	itemTrace.mu.Lock()
	defer itemTrace.mu.Unlock()
	if itemTrace.dir == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(itemTrace.dir, sc.TaskUUID().String()+".trace"),
		os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recording item %d: %w", pos, err)
	}
	_, err = fmt.Fprintf(f, "%s %d\n", sc.StepName(), pos)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording item %d: %w", pos, err)
	}
	return nil
}
