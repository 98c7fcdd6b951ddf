package native

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tasker-go/tasker/worker"
)

// Conditional approval (tasker-core's conditional_approval_rust, a decision
// point): validate_request → routing_decision, which chooses by amount:
// under 1000 auto_approve; from 1000 to under 5000 manager_approval; from
// 5000 manager_approval and finance_review. finalize_approval (deferred
// convergence) waits for whichever approvals were created and sums them up.

const approvalPrefix = "tasker_example_rs::step_handlers::conditional_approval_rust::"

const (
	smallAmountThreshold = 1000
	largeAmountThreshold = 5000
)

// approvalRequest is the task context.
type approvalRequest struct {
	Amount    *int64 `json:"amount"`
	Requester string `json:"requester"`
	Purpose   string `json:"purpose"`
}

func (a approvalRequest) amount() int64 {
	if a.Amount == nil {
		return 0
	}
	return *a.Amount
}

type validatedRequest struct {
	Amount      int64  `json:"amount"`
	Requester   string `json:"requester"`
	Purpose     string `json:"purpose"`
	ValidatedAt string `json:"validated_at"`
}

func approvalInvalid(msg, code string) error {
	return worker.WithErrorCode(worker.WithErrorType(worker.Permanent(errors.New(msg)), "ValidationError"), code)
}

func validateApprovalRequest(_ context.Context, step *worker.Step[approvalRequest]) (validatedRequest, error) {
	in := step.Input
	switch {
	case in.Amount == nil:
		return validatedRequest{}, approvalInvalid("Task context must contain amount", "MISSING_AMOUNT")
	case *in.Amount <= 0:
		return validatedRequest{}, approvalInvalid("Amount must be positive", "INVALID_AMOUNT")
	case in.Requester == "":
		return validatedRequest{}, approvalInvalid("Task context must contain requester", "MISSING_REQUESTER")
	case in.Purpose == "":
		return validatedRequest{}, approvalInvalid("Task context must contain purpose", "MISSING_PURPOSE")
	}
	return validatedRequest{Amount: *in.Amount, Requester: in.Requester, Purpose: in.Purpose,
		ValidatedAt: time.Now().UTC().Format(time.RFC3339)}, nil
}

// routeApproval is the decision: the approvals the amount calls for.
func routeApproval(_ context.Context, step *worker.Step[approvalRequest]) (worker.Decision, error) {
	if step.Input.Amount == nil {
		return worker.Decision{}, worker.WithErrorCode(worker.WithErrorType(
			worker.Permanent(errors.New("Amount is required for routing decision")), "DecisionError"), "MISSING_AMOUNT")
	}
	amount := step.Input.amount()
	var d worker.Decision
	switch {
	case amount < smallAmountThreshold:
		d = worker.CreateSteps("auto_approve").With("route_type", "auto_approval")
	case amount < largeAmountThreshold:
		d = worker.CreateSteps("manager_approval").With("route_type", "manager_only")
	default:
		d = worker.CreateSteps("manager_approval", "finance_review").With("route_type", "dual_approval")
	}
	step.SetMetadata("route_thresholds", map[string]int{"small": smallAmountThreshold, "large": largeAmountThreshold})
	return d.With("amount", amount), nil
}

// routedApproval is what each approval step returns.
type routedApproval struct {
	Approved       bool   `json:"approved"`
	ApprovalType   string `json:"approval_type"`
	ApprovedAmount int64  `json:"approved_amount"`
	ApprovedBy     string `json:"approved_by"`
	ApprovedAt     string `json:"approved_at"`
	Notes          string `json:"notes"`
}

func approver(kind, by, notes string) worker.HandlerFunc[approvalRequest, routedApproval] {
	return func(_ context.Context, step *worker.Step[approvalRequest]) (routedApproval, error) {
		return routedApproval{Approved: true, ApprovalType: kind, ApprovedAmount: step.Input.amount(), ApprovedBy: by,
			ApprovedAt: time.Now().UTC().Format(time.RFC3339), Notes: notes}, nil
	}
}

// approvalSteps are the steps finalize_approval may depend on.
var approvalSteps = []string{"auto_approve", "manager_approval", "finance_review"}

type finalApproval struct {
	Approved      bool     `json:"approved"`
	FinalAmount   int64    `json:"final_amount"`
	Requester     string   `json:"requester"`
	Purpose       string   `json:"purpose"`
	ApprovalChain []string `json:"approval_chain"`
	ApprovedBy    []string `json:"approved_by"`
	ApprovalPath  string   `json:"approval_path"`
	FinalizedAt   string   `json:"finalized_at"`
}

// finalizeApproval reads the approvals that exist (only the created
// branches are its parents).
func finalizeApproval(_ context.Context, step *worker.Step[approvalRequest]) (finalApproval, error) {
	out := finalApproval{Approved: true, FinalAmount: step.Input.amount(), Requester: step.Input.Requester,
		Purpose: step.Input.Purpose, ApprovalChain: []string{}, ApprovedBy: []string{},
		FinalizedAt: time.Now().UTC().Format(time.RFC3339)}
	for _, name := range approvalSteps {
		if _, ok := step.DependencyResult(name); !ok {
			continue
		}
		a, err := worker.Dependency[routedApproval](step, name)
		if err != nil {
			return finalApproval{}, err
		}
		if a.Approved {
			out.ApprovalChain = append(out.ApprovalChain, a.ApprovalType)
			out.ApprovedBy = append(out.ApprovedBy, a.ApprovedBy)
		}
	}
	slices.Sort(out.ApprovalChain)
	switch {
	case slices.Equal(out.ApprovalChain, []string{"automatic"}):
		out.ApprovalPath = "auto"
	case slices.Equal(out.ApprovalChain, []string{"manager"}):
		out.ApprovalPath = "manager_only"
	case slices.Equal(out.ApprovalChain, []string{"finance", "manager"}):
		out.ApprovalPath = "dual_approval"
	default:
		out.ApprovalPath = "unknown"
	}
	step.SetMetadata("approval_count", len(out.ApprovalChain))
	return out, nil
}

func registerConditionalApproval(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, approvalPrefix+"ValidateRequestHandler", worker.Func(validateApprovalRequest)),
		worker.Register(r, approvalPrefix+"RoutingDecisionHandler", worker.Func(routeApproval)),
		worker.Register(r, approvalPrefix+"AutoApproveHandler",
			approver("automatic", "system", "Automatically approved - below manual review threshold")),
		worker.Register(r, approvalPrefix+"ManagerApprovalHandler",
			approver("manager", "manager_rust_example", "Approved by manager - medium/large amount")),
		worker.Register(r, approvalPrefix+"FinanceReviewHandler",
			approver("finance", "finance_rust_example", "Approved by finance - large amount requiring dual approval")),
		worker.Register(r, approvalPrefix+"FinalizeApprovalHandler", worker.Func(finalizeApproval)),
	)
}
