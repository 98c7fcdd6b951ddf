package orchestration

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/tasker-go/tasker/shared/messaging"
)

// processRequests is the task request consumer's batch handler. A request
// that can never succeed (invalid, unknown template, duplicate) is logged and
// acked; a failure that might pass later (the database) leaves the message
// for a retry.
func (c *Core) processRequests(ctx context.Context, msgs []messaging.Message) error {
	for _, m := range msgs {
		var req TaskRequestMessage
		if err := json.Unmarshal(m.Payload, &req); err != nil {
			c.log.Error("dropping unreadable task request", "msg_id", m.ID, "err", err)
		} else if _, err := c.CreateTask(ctx, req.TaskRequest); err != nil {
			var ve *ValidationError
			switch {
			case errors.As(err, &ve), errors.Is(err, ErrTemplateNotFound), errors.Is(err, ErrConflict):
				c.log.Warn("rejected queued task request", "request_id", req.RequestID, "err", err)
			default:
				return err
			}
		}
		if err := c.queue.Ack(ctx, messaging.TaskRequestsQueue, messaging.ReceiptOf(m)); err != nil {
			return err
		}
	}
	return nil
}
