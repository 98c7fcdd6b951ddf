package native

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tasker-go/tasker/worker"
)

// Two teams' refund workflows (tasker-core's team-scaling examples), each
// in its own namespace:
//
//   payments:          validate_payment_eligibility → process_gateway_refund →
//                      update_payment_records → notify_customer
//   customer success:  validate_refund_request → check_refund_policy →
//                      get_manager_approval → execute_refund_workflow →
//                      update_ticket_status
//
// Amounts are in cents, as the templates' input schemas say.

const (
	stepValidateEligibility = "validate_payment_eligibility"
	stepGatewayRefund       = "process_gateway_refund"
	stepUpdatePaymentRecord = "update_payment_records"

	stepValidateRefundReq = "validate_refund_request"
	stepCheckRefundPolicy = "check_refund_policy"
	stepManagerApproval   = "get_manager_approval"
	stepExecuteRefund     = "execute_refund_workflow"
)

const (
	maxRefundCents          = 1000000 // 10,000.00: larger refunds are refused
	approvalThresholdCents  = 50000   // refunds above 500.00 always need a manager
	refundWindowDays        = 30
	autoApproveManagerLabel = "policy_auto_approval"
)

var (
	paymentIDPattern = regexp.MustCompile(`^pay_[A-Za-z0-9_]+$`)
	refundReasons    = []string{"customer_request", "fraud", "system_error", "chargeback"}
)

type paymentRefundContext struct {
	PaymentID     string   `json:"payment_id"`
	RefundAmount  *float64 `json:"refund_amount"`
	RefundReason  string   `json:"refund_reason"`
	PartialRefund bool     `json:"partial_refund"`
	CustomerEmail string   `json:"customer_email"`
	CorrelationID string   `json:"correlation_id"`
}

// eligibility is the result of validate_payment_eligibility.
type eligibility struct {
	PaymentID     string `json:"payment_id"`
	RefundCents   int64  `json:"refund_amount"`
	RefundReason  string `json:"refund_reason"`
	PartialRefund bool   `json:"partial_refund"`
	Eligible      bool   `json:"eligible"`
	Gateway       string `json:"gateway"`
}

func validatePaymentEligibility(_ context.Context, step *worker.StepContext) worker.Result {
	var in paymentRefundContext
	if err := step.DecodeContext(&in); err != nil {
		return invalid("%s", err)
	}
	if in.RefundReason == "" {
		in.RefundReason = "customer_request"
	}
	amount, res, ok := refundCents(in.RefundAmount)
	switch {
	case !ok:
		return res
	case !paymentIDPattern.MatchString(in.PaymentID):
		return invalid("payment_id %q must look like pay_<id>", in.PaymentID)
	case !slices.Contains(refundReasons, in.RefundReason):
		return invalid("refund_reason %q is not one of %s", in.RefundReason, strings.Join(refundReasons, ", "))
	}
	return worker.Success(eligibility{PaymentID: in.PaymentID, RefundCents: amount, RefundReason: in.RefundReason,
		PartialRefund: in.PartialRefund, Eligible: true, Gateway: "simulated"}, nil)
}

// refundCents checks a refund amount in cents.
func refundCents(v *float64) (int64, worker.Result, bool) {
	switch {
	case v == nil:
		return 0, invalid("refund_amount is required"), false
	case *v <= 0:
		return 0, invalid("refund_amount must be positive, got %v", *v), false
	case *v > maxRefundCents:
		return 0, invalid("refund_amount %v exceeds the maximum of %d cents", *v, maxRefundCents).
			WithErrorCode("REFUND_LIMIT_EXCEEDED"), false
	}
	return int64(*v + 0.5), worker.Result{}, true
}

// gatewayRefund is the result of process_gateway_refund.
type gatewayRefund struct {
	RefundID    string `json:"refund_id"`
	PaymentID   string `json:"payment_id"`
	RefundCents int64  `json:"refund_amount"`
	Status      string `json:"status"`
	Gateway     string `json:"gateway"`
}

func processGatewayRefund(_ context.Context, step *worker.StepContext) worker.Result {
	var e eligibility
	if err := step.DecodeDependency(stepValidateEligibility, &e); err != nil {
		return brokenDependency(err)
	}
	return worker.Success(gatewayRefund{RefundID: derivedID(step, "rfnd_", 16), PaymentID: e.PaymentID,
		RefundCents: e.RefundCents, Status: "processed", Gateway: e.Gateway}, nil)
}

// paymentRecord is the result of update_payment_records.
type paymentRecord struct {
	RecordID      string `json:"record_id"`
	PaymentID     string `json:"payment_id"`
	RefundID      string `json:"refund_id"`
	PaymentStatus string `json:"payment_status"`
	RefundCents   int64  `json:"refund_amount"`
}

func updatePaymentRecords(_ context.Context, step *worker.StepContext) worker.Result {
	var e eligibility
	var r gatewayRefund
	for name, v := range map[string]any{stepValidateEligibility: &e, stepGatewayRefund: &r} {
		if err := step.DecodeDependency(name, v); err != nil {
			return brokenDependency(err)
		}
	}
	status := "refunded"
	if e.PartialRefund {
		status = "partially_refunded"
	}
	return worker.Success(paymentRecord{RecordID: derivedID(step, "rec_", 16), PaymentID: r.PaymentID,
		RefundID: r.RefundID, PaymentStatus: status, RefundCents: r.RefundCents}, nil)
}

// customerNotice is the result of notify_customer.
type customerNotice struct {
	Notified  bool   `json:"notified"`
	Recipient string `json:"recipient,omitempty"`
	Channel   string `json:"channel"`
	MessageID string `json:"message_id,omitempty"`
	RefundID  string `json:"refund_id"`
	Reason    string `json:"reason,omitempty"` // why nobody was notified
}

func notifyRefundCustomer(_ context.Context, step *worker.StepContext) worker.Result {
	var rec paymentRecord
	if err := step.DecodeDependency(stepUpdatePaymentRecord, &rec); err != nil {
		return brokenDependency(err)
	}
	email, _ := step.InputOr("customer_email", "").(string)
	out := customerNotice{Channel: "email", RefundID: rec.RefundID}
	switch {
	case email == "":
		out.Reason = "no customer_email in the task context"
	case !plausibleEmail(email):
		return invalid("customer_email %q is not an email address", email)
	default:
		out.Notified, out.Recipient, out.MessageID = true, email, derivedID(step, "msg_", 16)
	}
	return worker.Success(out, nil)
}

type csRefundContext struct {
	TicketID         string   `json:"ticket_id"`
	CustomerID       string   `json:"customer_id"`
	RefundAmount     *float64 `json:"refund_amount"`
	RefundReason     string   `json:"refund_reason"`
	AgentNotes       string   `json:"agent_notes"`
	RequiresApproval *bool    `json:"requires_approval"`
	CustomerEmail    string   `json:"customer_email"`
	CorrelationID    string   `json:"correlation_id"`
	PaymentID        string   `json:"payment_id"`
}

// refundRequest is the result of validate_refund_request.
type refundRequest struct {
	TicketID         string `json:"ticket_id"`
	CustomerID       string `json:"customer_id"`
	CustomerEmail    string `json:"customer_email"`
	RefundCents      int64  `json:"refund_amount"`
	RefundReason     string `json:"refund_reason"`
	RequiresApproval bool   `json:"requires_approval"`
	PaymentID        string `json:"payment_id,omitempty"`
	Valid            bool   `json:"valid"`
}

func validateRefundRequest(_ context.Context, step *worker.StepContext) worker.Result {
	var in csRefundContext
	if err := step.DecodeContext(&in); err != nil {
		return invalid("%s", err)
	}
	amount, res, ok := refundCents(in.RefundAmount)
	switch {
	case !ok:
		return res
	case strings.TrimSpace(in.TicketID) == "":
		return invalid("ticket_id is required")
	case strings.TrimSpace(in.CustomerID) == "":
		return invalid("customer_id is required")
	case !plausibleEmail(in.CustomerEmail):
		return invalid("customer_email %q is not an email address", in.CustomerEmail)
	}
	requires := in.RequiresApproval == nil || *in.RequiresApproval // default true
	if in.RefundReason == "" {
		in.RefundReason = "customer_request"
	}
	return worker.Success(refundRequest{TicketID: in.TicketID, CustomerID: in.CustomerID, CustomerEmail: in.CustomerEmail,
		RefundCents: amount, RefundReason: in.RefundReason, RequiresApproval: requires, PaymentID: in.PaymentID,
		Valid: true}, nil)
}

// policyCheck is the result of check_refund_policy.
type policyCheck struct {
	Compliant        bool   `json:"policy_compliant"`
	RequiresApproval bool   `json:"requires_approval"`
	ApprovalReason   string `json:"approval_reason,omitempty"`
	RefundWindowDays int    `json:"refund_window_days"`
	RefundCents      int64  `json:"refund_amount"`
}

func checkRefundPolicy(_ context.Context, step *worker.StepContext) worker.Result {
	var req refundRequest
	if err := step.DecodeDependency(stepValidateRefundReq, &req); err != nil {
		return brokenDependency(err)
	}
	out := policyCheck{Compliant: true, RefundWindowDays: refundWindowDays, RefundCents: req.RefundCents}
	switch {
	case req.RefundCents > approvalThresholdCents:
		out.RequiresApproval, out.ApprovalReason = true, fmt.Sprintf("refunds above %d cents need a manager", approvalThresholdCents)
	case req.RequiresApproval:
		out.RequiresApproval, out.ApprovalReason = true, "requested by the agent"
	}
	return worker.Success(out, nil)
}

// approval is the result of get_manager_approval.
type approval struct {
	Approved   bool   `json:"approved"`
	ApprovalID string `json:"approval_id"`
	ApprovedBy string `json:"approved_by"`
	Required   bool   `json:"approval_required"`
}

func getManagerApproval(_ context.Context, step *worker.StepContext) worker.Result {
	var pol policyCheck
	if err := step.DecodeDependency(stepCheckRefundPolicy, &pol); err != nil {
		return brokenDependency(err)
	}
	out := approval{Approved: true, ApprovalID: derivedID(step, "appr_", 12), Required: pol.RequiresApproval,
		ApprovedBy: autoApproveManagerLabel}
	if pol.RequiresApproval {
		out.ApprovedBy = "manager_" + derivedDigits(step, "manager", 4) // the simulated manager always approves
	}
	return worker.Success(out, nil)
}

// delegatedRefund is the result of execute_refund_workflow: the request
// handed to the payments team's workflow.
type delegatedRefund struct {
	DelegatedTaskID string `json:"delegated_task_id"`
	TargetNamespace string `json:"target_namespace"`
	TargetWorkflow  string `json:"target_workflow"`
	PaymentID       string `json:"payment_id"`
	RefundCents     int64  `json:"refund_amount"`
	ApprovalID      string `json:"approval_id"`
	Status          string `json:"status"`
}

func executeRefundWorkflow(_ context.Context, step *worker.StepContext) worker.Result {
	var req refundRequest
	var ok approval
	for name, v := range map[string]any{stepValidateRefundReq: &req, stepManagerApproval: &ok} {
		if err := step.DecodeDependency(name, v); err != nil {
			return brokenDependency(err)
		}
	}
	if !ok.Approved {
		return worker.Failure("refund was not approved", errorTypePermanent, false).WithErrorCode("REFUND_NOT_APPROVED")
	}
	paymentID := req.PaymentID
	if paymentID == "" {
		paymentID = "pay_" + strings.ToLower(derivedID(step, "", 12))
	}
	return worker.Success(delegatedRefund{DelegatedTaskID: derivedID(step, "task_", 16),
		TargetNamespace: "payments_rs", TargetWorkflow: "payments_process_refund_rs", PaymentID: paymentID,
		RefundCents: req.RefundCents, ApprovalID: ok.ApprovalID, Status: "delegated"}, nil)
}

// ticketUpdate is the result of update_ticket_status.
type ticketUpdate struct {
	TicketID        string `json:"ticket_id"`
	Status          string `json:"status"`
	Resolution      string `json:"resolution"`
	DelegatedTaskID string `json:"delegated_task_id"`
	CustomerEmail   string `json:"customer_notified"`
}

func updateTicketStatus(_ context.Context, step *worker.StepContext) worker.Result {
	var req refundRequest
	var del delegatedRefund
	for name, v := range map[string]any{stepValidateRefundReq: &req, stepExecuteRefund: &del} {
		if err := step.DecodeDependency(name, v); err != nil {
			return brokenDependency(err)
		}
	}
	return worker.Success(ticketUpdate{TicketID: req.TicketID, Status: "resolved", Resolution: "refund_issued",
		DelegatedTaskID: del.DelegatedTaskID, CustomerEmail: req.CustomerEmail}, nil)
}

func refundHandlers() map[string]worker.Handler {
	return map[string]worker.Handler{
		"team_scaling_payments_validate_eligibility":   worker.HandlerFunc(validatePaymentEligibility),
		"team_scaling_payments_process_gateway_refund": worker.HandlerFunc(processGatewayRefund),
		"team_scaling_payments_update_records":         worker.HandlerFunc(updatePaymentRecords),
		"team_scaling_payments_notify_customer":        worker.HandlerFunc(notifyRefundCustomer),
		"team_scaling_cs_validate_refund_request":      worker.HandlerFunc(validateRefundRequest),
		"team_scaling_cs_check_refund_policy":          worker.HandlerFunc(checkRefundPolicy),
		"team_scaling_cs_get_manager_approval":         worker.HandlerFunc(getManagerApproval),
		"team_scaling_cs_execute_refund_workflow":      worker.HandlerFunc(executeRefundWorkflow),
		"team_scaling_cs_update_ticket_status":         worker.HandlerFunc(updateTicketStatus),
	}
}
