package greet_test

import (
	"context"
	"testing"

	"example.com/tour/greet"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

func TestShout(t *testing.T) {
	out, err := workertest.Run(worker.Func(greet.Shout), workertest.NewStep("shout").
		WithDependency("compose", greet.Composed{Greeting: "Hello, Ada!"}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Shouted != "HELLO, ADA!" {
		t.Fatalf("got %q", out.Shouted)
	}
}

func TestComposeRejectsMissingName(t *testing.T) {
	_, err := workertest.Run(worker.Func(greet.Compose), workertest.NewStep("compose"))
	if c := worker.Classify(err); c == nil || !c.Permanent {
		t.Fatalf("want a permanent failure, got %v", err)
	}
}

// TestWorkflow runs the whole template in memory with the real handlers.
func TestWorkflow(t *testing.T) {
	tpls, err := template.ParseFile("../templates/greetings.yaml", template.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := worker.NewRegistry()
	if err := greet.Register(reg); err != nil {
		t.Fatal(err)
	}
	run, err := workertest.RunTemplate(context.Background(), tpls[0], reg, map[string]any{"name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if !run.Complete() {
		t.Fatalf("failed steps: %v", run.Failed())
	}
}
