// Command greet-worker runs the tour's handlers on the Tasker worker
// foundation. worker.Open reads the configuration as tasker-worker does
// (DATABASE_URL, TASKER_ENV, TASKER_TEMPLATE_PATH, TASKER__WORKER__...
// overrides) and connects; Run serves until SIGTERM, then stops gracefully.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"example.com/tour/greet"
	"github.com/tasker-go/tasker/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	handlers := worker.NewRegistry()
	err := greet.Register(handlers)
	var w *worker.Service
	if err == nil {
		w, err = worker.Open(ctx, worker.OpenOptions{Registry: handlers, Name: "greet-worker"})
	}
	if err == nil {
		err = w.Run(ctx)
	}
	if err != nil {
		log.Fatal(err)
	}
}
