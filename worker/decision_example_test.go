package worker_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

// Approval is the task context of an approval workflow.
type Approval struct {
	Amount int `json:"amount"`
}

// route is a decision step's handler: it returns the steps to create.
// Orchestration creates them (and the deferred convergence step that waits
// for whichever exist), then runs them.
func route(_ context.Context, step *worker.Step[Approval]) (worker.Decision, error) {
	switch {
	case step.Input.Amount < 1000:
		return worker.CreateSteps("auto_approve").With("route", "auto"), nil
	case step.Input.Amount < 5000:
		return worker.CreateSteps("manager_approval").With("route", "manager"), nil
	default:
		return worker.CreateSteps("manager_approval", "finance_review").With("route", "dual"), nil
	}
}

// A decision handler returns a worker.Decision: the chosen steps, stored
// under decision_point_outcome beside the handler's own fields.
func ExampleCreateSteps() {
	for _, amount := range []int{500, 10000} {
		d, err := workertest.Run(worker.Func(route),
			workertest.NewStep("routing_decision").WithContext(Approval{Amount: amount}))
		if err != nil {
			fmt.Println(err)
			return
		}
		stored, _ := json.Marshal(d)
		fmt.Println(d.Steps(), string(stored))
	}
	none, _ := json.Marshal(worker.NoBranches())
	fmt.Println(string(none))
	// Output:
	// [auto_approve] {"decision_point_outcome":{"type":"create_steps","step_names":["auto_approve"]},"route":"auto"}
	// [manager_approval finance_review] {"decision_point_outcome":{"type":"create_steps","step_names":["manager_approval","finance_review"]},"route":"dual"}
	// {"decision_point_outcome":{"type":"no_branches"}}
}
