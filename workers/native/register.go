package native

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tasker-go/tasker/worker"
)

// handlers returns every handler of the package by callable.
func handlers() map[string]worker.Handler {
	all := map[string]worker.Handler{}
	for _, group := range []map[string]worker.Handler{
		arithmeticHandlers(),
		orderFulfillmentHandlers(),
		ecommerceHandlers(),
		dataPipelineHandlers(),
		userRegistrationHandlers(),
		refundHandlers(),
		domainEventHandlers(),
		methodDispatchHandlers(),
		testHandlers(),
	} {
		for c, h := range group {
			if _, dup := all[c]; dup {
				panic(fmt.Sprintf("native: callable %q defined twice", c))
			}
			all[c] = h
		}
	}
	return all
}

// Register adds every handler of the package to r under its callable. It
// registers all it can and reports every callable that r refused (already
// registered, for instance).
func Register(r *worker.Registry) error {
	var errs []error
	all := handlers()
	for _, c := range slices.Sorted(maps.Keys(all)) {
		if err := r.Register(c, all[c]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("registering native handlers: %w", err)
	}
	return nil
}

// Callables lists the callables Register adds, sorted.
func Callables() []string {
	return slices.Sorted(maps.Keys(handlers()))
}
