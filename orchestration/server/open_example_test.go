package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/orchestration/server"
	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/testdb"
)

// A program that embeds orchestration needs no options at all: Open loads
// the configuration from the files and the environment (DATABASE_URL,
// TASKER_ENV, TASKER__SECTION__KEY) as `tasker server` does and connects;
// Run serves the REST API and runs the loops until its context ends, then
// stops gracefully. A real main is:
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		srv, err := server.Open(ctx, server.OpenOptions{})
//		if err == nil {
//			err = srv.Run(ctx)
//		}
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Here the environment is given explicitly (a scratch schema, a free port)
// and the service is started and stopped in two calls, so that the example
// can ask its health.
func ExampleOpen() {
	environ, cleanup := scratchEnvironment()
	defer cleanup()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.OpenOptions{
		Environ:     environ,
		BindAddress: "127.0.0.1:0",
		InstanceID:  "example-orchestrator",
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	res, err := http.Get("http://" + srv.Addr() + "/health")
	if err != nil {
		fmt.Println(err)
	} else {
		res.Body.Close()
		fmt.Println(srv.InstanceID(), srv.Config().Env, res.Status)
	}
	if err := srv.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// example-orchestrator test 200 OK
}

// scratchEnvironment migrates a private schema on the test database and
// returns the environment that points the service at it.
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
		}, func() {
			conn, err := pgx.Connect(ctx, testdb.URL())
			if err != nil {
				return
			}
			defer conn.Close(ctx)
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		}
}
