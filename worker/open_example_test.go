package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
	"github.com/tasker-go/tasker/worker"
)

// A worker program needs its handlers and nothing else: Open loads the
// configuration from the files and the environment (DATABASE_URL,
// TASKER_ENV, TASKER_TEMPLATE_PATH, TASKER__SECTION__KEY) as tasker-worker
// does and connects; Run serves until its context ends, then stops
// gracefully. A real main is:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		reg := worker.NewRegistry()
//		err := worker.Register(reg, "greetings.hello", worker.Func(hello))
//		var w *worker.Service
//		if err == nil {
//			w, err = worker.Open(ctx, worker.OpenOptions{Registry: reg})
//		}
//		if err == nil {
//			err = w.Run(ctx)
//		}
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Here the environment is given explicitly (a scratch schema) and the
// worker is started and stopped in two calls, so that the example can print
// what it serves.
func ExampleOpen() {
	environ, cleanup := scratchEnvironment()
	defer cleanup()
	tpls, err := template.Parse([]byte(`
name: greet
namespace_name: greetings
version: "1.0.0"
steps:
  - {name: hello, handler: {callable: greetings.hello}}
`), "greet.yaml", template.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	reg := worker.NewRegistry()
	hello := worker.Func(func(_ context.Context, step *worker.Step[struct{ Name string }]) (map[string]string, error) {
		return map[string]string{"greeting": "hello " + step.Input.Name}, nil
	})
	if err := worker.Register(reg, "greetings.hello", hello); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	w, err := worker.Open(ctx, worker.OpenOptions{
		Registry:  reg,
		Templates: tpls,
		Environ:   environ,
		WorkerID:  "example-worker",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Core().WorkerID(), w.Core().Namespaces(), w.Config().Env)
	if err := w.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// example-worker [greetings] test
}

// scratchEnvironment migrates a private schema on the test database and
// returns the environment that points a worker at it.
func scratchEnvironment() (environ []string, cleanup func()) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	ctx := context.Background()
	if err := migrations.Migrate(ctx, testdb.URL(), schema); err != nil {
		panic(err)
	}
	return []string{
			"DATABASE_URL=" + testdb.URL(),
			"TASKER__DATABASE__SCHEMA=" + schema,
			"TASKER_ENV=test",
			"TASKER__WORKER__WEB__ENABLED=false",
		}, func() {
			conn, err := pgx.Connect(ctx, testdb.URL())
			if err != nil {
				return
			}
			defer conn.Close(ctx)
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		}
}
