package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tasker-go/tasker/worker"
)

// The diamond and decision half of tasker-core's diamond_decision_batch:
// ddb_diamond_start validates the task's numbers; branch_evens and
// branch_odds filter them; ddb_routing_decision chooses the even path
// (even_batch_analyzer) when there are at least as many evens as odds, else
// the odd path (odd_batch_analyzer). The batch steps of each path are
// registered with batch processing.

const ddbPrefix = "tasker_example_rs::step_handlers::diamond_decision_batch::"

const stepDDBStart = "ddb_diamond_start"

type ddbNumbers struct {
	Numbers []json.RawMessage `json:"numbers"`
}

type ddbStart struct {
	AllNumbers []int64 `json:"all_numbers"`
	Count      int     `json:"count"`
}

func ddbDiamondStart(_ context.Context, step *worker.Step[ddbNumbers]) (ddbStart, error) {
	var nums []int64
	for _, v := range step.Input.Numbers {
		var n int64
		if json.Unmarshal(v, &n) == nil { // what is not an integer is left out
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		return ddbStart{}, worker.WithErrorCode(worker.WithErrorType(
			worker.Permanent(errors.New("Empty numbers array")), "ValidationError"), "VALIDATION_ERROR")
	}
	return ddbStart{AllNumbers: nums, Count: len(nums)}, nil
}

// ddbFilter keeps the numbers whose parity is even (or odd), under the
// result field key.
func ddbFilter(even bool, key string) worker.HandlerFunc[struct{}, map[string]any] {
	return func(_ context.Context, step *worker.Step[struct{}]) (map[string]any, error) {
		start, err := worker.Dependency[ddbStart](step, stepDDBStart)
		if err != nil {
			return nil, err
		}
		kept := []int64{}
		for _, n := range start.AllNumbers {
			if (n%2 == 0) == even {
				kept = append(kept, n)
			}
		}
		return map[string]any{key: kept, "count": len(kept)}, nil
	}
}

type ddbCount struct {
	Count int `json:"count"`
}

func ddbRoutingDecision(_ context.Context, step *worker.Step[struct{}]) (worker.Decision, error) {
	evens, err := worker.Dependency[ddbCount](step, "branch_evens")
	if err != nil {
		return worker.Decision{}, err
	}
	odds, err := worker.Dependency[ddbCount](step, "branch_odds")
	if err != nil {
		return worker.Decision{}, err
	}
	route, next, reasoning := "even_dominant", "even_batch_analyzer",
		fmt.Sprintf("Even count (%d) >= odd count (%d), routing to even batch processing", evens.Count, odds.Count)
	if evens.Count < odds.Count {
		route, next, reasoning = "odd_dominant", "odd_batch_analyzer",
			fmt.Sprintf("Odd count (%d) > even count (%d), routing to odd batch processing", odds.Count, evens.Count)
	}
	step.SetMetadata("created_step", next)
	return worker.CreateSteps(next).With("route_type", route).With("even_count", evens.Count).
		With("odd_count", odds.Count).With("reasoning", reasoning), nil
}

func registerDiamondDecision(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, ddbPrefix+"DiamondStartHandler", worker.Func(ddbDiamondStart)),
		worker.Register(r, ddbPrefix+"BranchEvensHandler", ddbFilter(true, "even_numbers")),
		worker.Register(r, ddbPrefix+"BranchOddsHandler", ddbFilter(false, "odd_numbers")),
		worker.Register(r, ddbPrefix+"RoutingDecisionHandler", worker.Func(ddbRoutingDecision)),
	)
}
