package store

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// judgement sorts a claim's verdicts.
type judgement struct {
	verdicts      []claimVerdict
	claimed       []uuid.UUID
	drop          []int64
	deferrals     []Deferral
	exhausted     []uuid.UUID
	exhaustedMsgs map[uuid.UUID]int64
	reads         map[int64]int
}

// judge decides what happens to each message of a claim: claimed, deleted
// (its step is not claimable through it and never will be), hidden until
// the step can be claimed (a live claim, a retry not yet due), or its step
// failed because its claim lapsed with no attempts left.
func judge(verdicts []claimVerdict) judgement {
	j := judgement{verdicts: verdicts, exhaustedMsgs: map[uuid.UUID]int64{}, reads: map[int64]int{}}
	for _, v := range verdicts {
		j.reads[v.MessageID] = v.ReadCount
		switch {
		case v.StepUUID == uuid.Nil:
			j.drop = append(j.drop, v.MessageID)
		case v.Claimed:
			j.claimed = append(j.claimed, v.StepUUID)
		case v.State == nil || v.TaskState == nil:
			j.drop = append(j.drop, v.MessageID)
		case state.TaskState(*v.TaskState).Terminal():
			j.drop = append(j.drop, v.MessageID)
		case *v.State == string(state.StepInProgress) && v.ClaimDeadline != nil && v.ClaimDeadline.After(v.Now):
			j.deferrals = append(j.deferrals, Deferral{MessageID: v.MessageID, Until: *v.ClaimDeadline})
		case *v.State == string(state.StepInProgress) && !v.Eligible:
			j.exhausted = append(j.exhausted, v.StepUUID)
			j.exhaustedMsgs[v.StepUUID] = v.MessageID
		case *v.State == string(state.StepWaitingForRetry) && v.NextRetryAt != nil && v.NextRetryAt.After(v.Now):
			j.deferrals = append(j.deferrals, Deferral{MessageID: v.MessageID, Until: *v.NextRetryAt})
		default:
			j.drop = append(j.drop, v.MessageID)
		}
	}
	return j
}

// finishClaim assembles the claimed steps and, after the claim committed,
// fails lapsed claims with no attempts left. That is a transaction of its
// own: should it fail, the error is logged (the claim itself stands) and the
// steps are failed when their messages reappear.
func (s *Store) finishClaim(ctx context.Context, j judgement, h *hydration) ClaimOutcome {
	out := ClaimOutcome{Messages: len(j.verdicts)}
	for _, v := range j.verdicts {
		if !v.Claimed || v.StepUUID == uuid.Nil {
			continue
		}
		st, ok := h.rows[v.StepUUID]
		if !ok {
			continue // cannot happen: the claim and its reads share a transaction
		}
		d := h.deps[v.StepUUID]
		if d == nil {
			d = map[string]json.RawMessage{}
		}
		out.Claimed = append(out.Claimed, ClaimedStep{
			MessageID: v.MessageID, ReadCount: v.ReadCount, Step: st, Task: h.tasks[v.StepUUID], Dependencies: d,
			Reclaimed: v.Action == "reclaim", Deadline: v.Deadline,
		})
	}
	out.Drop = append(out.Drop, j.drop...)
	out.Defer = j.deferrals
	if len(j.exhausted) > 0 {
		n, err := s.failLostClaims(ctx, j.exhausted)
		if err != nil {
			s.log.Warn("failing steps whose claim lapsed with no attempts left failed; retried when their messages reappear",
				"steps", len(j.exhausted), "err", err)
			return out
		}
		out.Exhausted = n
		for _, id := range j.exhausted {
			out.Drop = append(out.Drop, j.exhaustedMsgs[id])
		}
	}
	return out
}
