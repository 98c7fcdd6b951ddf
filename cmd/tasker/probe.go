package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/internal/probe"
)

// newProbeCmd is the container health check of the tasker image, which has
// no shell or curl: it exits 0 only when URL answers 2xx.
func newProbeCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Exit 0 when URL (a health endpoint) answers 2xx; for container health checks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return probe.Check(cmd.Context(), args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", probe.DefaultTimeout, "how long to wait for the answer")
	return cmd
}
