package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tasker",
		Short:         "Tasker for Go: workflow orchestration on PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newMigrateCmd(),
		newConfigCmd(),
		newTemplateCmd(),
		newDevCmd(),
		withFanOut(newBenchCmd()),
		newServerCmd(),
		newTaskCmd(),
		newDLQCmd(),
		newSystemCmd(),
		newAuthCmd(),
		newProbeCmd(),
		newWASMCmd(),
	)
	return root
}
