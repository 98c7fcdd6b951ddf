// Command tasker is the Tasker for Go command line: it runs the orchestration
// server (`tasker server`), a complete development system (`tasker dev`), and
// the operator and client commands (migrate, template, config, task, dlq,
// bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ec exitCodeError
		if errors.As(err, &ec) {
			if ec.msg != "" {
				fmt.Fprintln(os.Stderr, ec.msg)
			}
			os.Exit(ec.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitCodeError lets a command choose its exit status without printing a
// generic "error:" prefix (for example `template validate` prints its own
// problem lines and exits 1).
type exitCodeError struct {
	code int
	msg  string
}

func (e exitCodeError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit status %d", e.code)
}
