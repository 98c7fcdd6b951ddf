package native

import (
	"errors"
	"fmt"

	"github.com/tasker-go/tasker/worker"
)

// Register adds every handler of the package to r under its callable. It
// registers all it can and reports every callable that r refused (already
// registered, for instance).
func Register(r *worker.Registry) error {
	err := errors.Join(
		registerArithmetic(r),
		registerOrderFulfillment(r),
		registerEcommerce(r),
		registerDataPipeline(r),
		registerUserRegistration(r),
		registerRefunds(r),
		registerDomainEvents(r),
		registerMethodDispatch(r),
		registerConditionalApproval(r),
		registerDiamondDecision(r),
		registerDiamondDecisionBatch(r),
		registerTestHandlers(r),
		registerBatchExample(r),
		registerBatchProducts(r),
		registerCheckpointYield(r),
	)
	if err != nil {
		return fmt.Errorf("registering native handlers: %w", err)
	}
	return nil
}

// Callables lists the callables Register adds, sorted.
func Callables() []string {
	r := worker.NewRegistry()
	if err := Register(r); err != nil {
		panic(err) // a callable defined twice in this package: a bug caught by its tests
	}
	return r.Callables()
}
