package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
)

// domainEventsPage is the server's page size for a task's domain events.
const domainEventsPage = 1000

func newTaskEventsCmd(f *apiFlags) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "events TASK_UUID [--follow]",
		Short: "List the domain events a task's handlers published",
		Long: `List the domain events a task's handlers published, oldest first: each one
appears once orchestration committed the step result that carried it, whatever
its delivery mode. With --follow, keep printing new ones until the task ends (with -o json, one
JSON object per line).`,
		Example: "  tasker task events 0195d1d8-4a7c-7e07-8f38-edda4012d079\n" +
			"  tasker task events 0195d1d8-4a7c-7e07-8f38-edda4012d079 --follow\n" +
			"  tasker task events 0195d1d8-4a7c-7e07-8f38-edda4012d079 -o json | jq '.[].event_name'",
		Args: argNames("TASK_UUID"),
		RunE: runAPI(f, func(s *apiSession, args []string) error {
			id, err := parseUUIDArg(s.cmd, "TASK_UUID", args[0])
			if err != nil {
				return err
			}
			if follow {
				_, err := s.c.Follow(s.ctx, id, func(e client.Event) error {
					if e.Domain == nil {
						return nil
					}
					if s.json {
						b, err := json.Marshal(e.Domain)
						if err != nil {
							return err
						}
						_, err = fmt.Fprintln(s.out, string(b))
						return err
					}
					printDomainEvent(s.out, e.Domain)
					return nil
				})
				return err
			}
			var evs []api.DomainEvent
			for after := int64(0); ; {
				page, err := s.c.DomainEvents(s.ctx, id, after)
				if err != nil {
					return err
				}
				evs = append(evs, page...)
				if len(page) < domainEventsPage {
					break
				}
				after = page[len(page)-1].Seq
			}
			if s.json {
				b, err := json.Marshal(evs)
				if err != nil {
					return err
				}
				if evs == nil {
					b = []byte("[]")
				}
				return writeIndentedJSON(s.out, b)
			}
			if len(evs) == 0 {
				fmt.Fprintln(s.out, "no domain events published for this task")
				return nil
			}
			tw := newTable(s.out)
			tableRow(tw, "SEQ", "PUBLISHED", "EVENT", "STEP", "MODE", "CONDITION", "PAYLOAD")
			for i := range evs {
				e := &evs[i]
				tableRow(tw, fmt.Sprint(e.Seq), whenAt(e.Metadata.PublishedAt), e.EventName, e.Metadata.StepName,
					e.Metadata.DeliveryMode, e.Metadata.Condition, jsonOneLine(e.Payload, 80))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until the task ends")
	return cmd
}

func printDomainEvent(w io.Writer, e *api.DomainEvent) {
	fmt.Fprintf(w, "%d  %s  %s  %s  %s  %s\n", e.Seq, whenAt(e.Metadata.PublishedAt), e.EventName,
		e.Metadata.StepName, e.Metadata.DeliveryMode, jsonOneLine(e.Payload, 80))
}
