// Package greet holds the tour's step handlers.
package greet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// Person is the task context: {"name": "Ada"}.
type Person struct {
	Name string `json:"name"`
}

// Composed is what the compose step returns.
type Composed struct {
	Greeting string `json:"greeting"`
}

// Compose builds a greeting from the task context and the step's
// configuration (handler.initialization).
func Compose(_ context.Context, step *worker.Step[Person]) (Composed, error) {
	if step.Input.Name == "" {
		// Bad input does not get better on a retry.
		return Composed{}, worker.Permanent(errors.New("name is required"))
	}
	cfg, err := worker.Config[struct {
		Salutation string `json:"salutation"`
	}](step)
	if err != nil {
		return Composed{}, err
	}
	return Composed{Greeting: fmt.Sprintf("%s, %s!", cfg.Salutation, step.Input.Name)}, nil
}

// Shouted is what the shout step returns.
type Shouted struct {
	Shouted string `json:"shouted"`
}

// Shout reads the result of the compose step and upper-cases it.
func Shout(_ context.Context, step *worker.Step[struct{}]) (Shouted, error) {
	composed, err := worker.Dependency[Composed](step, "compose")
	if err != nil {
		return Shouted{}, err
	}
	step.SetMetadata("attempt", step.Attempt())
	return Shouted{Shouted: strings.ToUpper(composed.Greeting)}, nil
}

// Register adds the handlers under the callables the template names.
func Register(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "tour.compose", worker.Func(Compose)),
		worker.Register(r, "tour.shout", worker.Func(Shout)),
	)
}
