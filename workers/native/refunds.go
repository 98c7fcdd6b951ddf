package native

import (
	"context"
	"errors"
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

func validatePaymentEligibility(_ context.Context, step *worker.Step[paymentRefundContext]) (eligibility, error) {
	in := step.Input
	if in.RefundReason == "" {
		in.RefundReason = "customer_request"
	}
	amount, err := refundCents(in.RefundAmount)
	switch {
	case err != nil:
		return eligibility{}, err
	case !paymentIDPattern.MatchString(in.PaymentID):
		return eligibility{}, invalid("payment_id %q must look like pay_<id>", in.PaymentID)
	case !slices.Contains(refundReasons, in.RefundReason):
		return eligibility{}, invalid("refund_reason %q is not one of %s", in.RefundReason, strings.Join(refundReasons, ", "))
	}
	return eligibility{PaymentID: in.PaymentID, RefundCents: amount, RefundReason: in.RefundReason,
		PartialRefund: in.PartialRefund, Eligible: true, Gateway: "simulated"}, nil
}

// refundCents checks a refund amount in cents.
func refundCents(v *float64) (int64, error) {
	switch {
	case v == nil:
		return 0, invalid("refund_amount is required")
	case *v <= 0:
		return 0, invalid("refund_amount must be positive, got %v", *v)
	case *v > maxRefundCents:
		return 0, worker.WithErrorCode(invalid("refund_amount %v exceeds the maximum of %d cents", *v, maxRefundCents),
			"REFUND_LIMIT_EXCEEDED")
	}
	return int64(*v + 0.5), nil
}

// gatewayRefund is the result of process_gateway_refund.
type gatewayRefund struct {
	RefundID    string `json:"refund_id"`
	PaymentID   string `json:"payment_id"`
	RefundCents int64  `json:"refund_amount"`
	Status      string `json:"status"`
	Gateway     string `json:"gateway"`
}

func processGatewayRefund(_ context.Context, step *worker.Step[struct{}]) (gatewayRefund, error) {
	e, err := worker.Dependency[eligibility](step, stepValidateEligibility)
	if err != nil {
		return gatewayRefund{}, err
	}
	return gatewayRefund{RefundID: derivedID(step, "rfnd_", 16), PaymentID: e.PaymentID,
		RefundCents: e.RefundCents, Status: "processed", Gateway: e.Gateway}, nil
}

// paymentRecord is the result of update_payment_records.
type paymentRecord struct {
	RecordID      string `json:"record_id"`
	PaymentID     string `json:"payment_id"`
	RefundID      string `json:"refund_id"`
	PaymentStatus string `json:"payment_status"`
	RefundCents   int64  `json:"refund_amount"`
}

func updatePaymentRecords(_ context.Context, step *worker.Step[struct{}]) (paymentRecord, error) {
	e, err := worker.Dependency[eligibility](step, stepValidateEligibility)
	if err != nil {
		return paymentRecord{}, err
	}
	r, err := worker.Dependency[gatewayRefund](step, stepGatewayRefund)
	if err != nil {
		return paymentRecord{}, err
	}
	status := "refunded"
	if e.PartialRefund {
		status = "partially_refunded"
	}
	return paymentRecord{RecordID: derivedID(step, "rec_", 16), PaymentID: r.PaymentID,
		RefundID: r.RefundID, PaymentStatus: status, RefundCents: r.RefundCents}, nil
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

func notifyRefundCustomer(_ context.Context, step *worker.Step[paymentRefundContext]) (customerNotice, error) {
	rec, err := worker.Dependency[paymentRecord](step, stepUpdatePaymentRecord)
	if err != nil {
		return customerNotice{}, err
	}
	email := step.Input.CustomerEmail
	out := customerNotice{Channel: "email", RefundID: rec.RefundID}
	switch {
	case email == "":
		out.Reason = "no customer_email in the task context"
	case !plausibleEmail(email):
		return customerNotice{}, invalid("customer_email %q is not an email address", email)
	default:
		out.Notified, out.Recipient, out.MessageID = true, email, derivedID(step, "msg_", 16)
	}
	return out, nil
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

func validateRefundRequest(_ context.Context, step *worker.Step[csRefundContext]) (refundRequest, error) {
	in := step.Input
	amount, err := refundCents(in.RefundAmount)
	switch {
	case err != nil:
		return refundRequest{}, err
	case strings.TrimSpace(in.TicketID) == "":
		return refundRequest{}, invalid("ticket_id is required")
	case strings.TrimSpace(in.CustomerID) == "":
		return refundRequest{}, invalid("customer_id is required")
	case !plausibleEmail(in.CustomerEmail):
		return refundRequest{}, invalid("customer_email %q is not an email address", in.CustomerEmail)
	}
	requires := in.RequiresApproval == nil || *in.RequiresApproval // default true
	if in.RefundReason == "" {
		in.RefundReason = "customer_request"
	}
	return refundRequest{TicketID: in.TicketID, CustomerID: in.CustomerID, CustomerEmail: in.CustomerEmail,
		RefundCents: amount, RefundReason: in.RefundReason, RequiresApproval: requires, PaymentID: in.PaymentID,
		Valid: true}, nil
}

// policyCheck is the result of check_refund_policy.
type policyCheck struct {
	Compliant        bool   `json:"policy_compliant"`
	RequiresApproval bool   `json:"requires_approval"`
	ApprovalReason   string `json:"approval_reason,omitempty"`
	RefundWindowDays int    `json:"refund_window_days"`
	RefundCents      int64  `json:"refund_amount"`
}

func checkRefundPolicy(_ context.Context, step *worker.Step[struct{}]) (policyCheck, error) {
	req, err := worker.Dependency[refundRequest](step, stepValidateRefundReq)
	if err != nil {
		return policyCheck{}, err
	}
	out := policyCheck{Compliant: true, RefundWindowDays: refundWindowDays, RefundCents: req.RefundCents}
	switch {
	case req.RefundCents > approvalThresholdCents:
		out.RequiresApproval, out.ApprovalReason = true, fmt.Sprintf("refunds above %d cents need a manager", approvalThresholdCents)
	case req.RequiresApproval:
		out.RequiresApproval, out.ApprovalReason = true, "requested by the agent"
	}
	return out, nil
}

// approval is the result of get_manager_approval.
type approval struct {
	Approved   bool   `json:"approved"`
	ApprovalID string `json:"approval_id"`
	ApprovedBy string `json:"approved_by"`
	Required   bool   `json:"approval_required"`
}

func getManagerApproval(_ context.Context, step *worker.Step[struct{}]) (approval, error) {
	pol, err := worker.Dependency[policyCheck](step, stepCheckRefundPolicy)
	if err != nil {
		return approval{}, err
	}
	out := approval{Approved: true, ApprovalID: derivedID(step, "appr_", 12), Required: pol.RequiresApproval,
		ApprovedBy: autoApproveManagerLabel}
	if pol.RequiresApproval {
		out.ApprovedBy = "manager_" + derivedDigits(step, "manager", 4) // the simulated manager always approves
	}
	return out, nil
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

func executeRefundWorkflow(_ context.Context, step *worker.Step[struct{}]) (delegatedRefund, error) {
	req, err := worker.Dependency[refundRequest](step, stepValidateRefundReq)
	if err != nil {
		return delegatedRefund{}, err
	}
	ok, err := worker.Dependency[approval](step, stepManagerApproval)
	if err != nil {
		return delegatedRefund{}, err
	}
	if !ok.Approved {
		return delegatedRefund{}, worker.WithErrorCode(worker.Permanent(errors.New("refund was not approved")), "REFUND_NOT_APPROVED")
	}
	paymentID := req.PaymentID
	if paymentID == "" {
		paymentID = "pay_" + strings.ToLower(derivedID(step, "", 12))
	}
	return delegatedRefund{DelegatedTaskID: derivedID(step, "task_", 16),
		TargetNamespace: "payments_rs", TargetWorkflow: "payments_process_refund_rs", PaymentID: paymentID,
		RefundCents: req.RefundCents, ApprovalID: ok.ApprovalID, Status: "delegated"}, nil
}

// ticketUpdate is the result of update_ticket_status.
type ticketUpdate struct {
	TicketID        string `json:"ticket_id"`
	Status          string `json:"status"`
	Resolution      string `json:"resolution"`
	DelegatedTaskID string `json:"delegated_task_id"`
	CustomerEmail   string `json:"customer_notified"`
}

func updateTicketStatus(_ context.Context, step *worker.Step[struct{}]) (ticketUpdate, error) {
	req, err := worker.Dependency[refundRequest](step, stepValidateRefundReq)
	if err != nil {
		return ticketUpdate{}, err
	}
	del, err := worker.Dependency[delegatedRefund](step, stepExecuteRefund)
	if err != nil {
		return ticketUpdate{}, err
	}
	return ticketUpdate{TicketID: req.TicketID, Status: "resolved", Resolution: "refund_issued",
		DelegatedTaskID: del.DelegatedTaskID, CustomerEmail: req.CustomerEmail}, nil
}

func registerRefunds(r *worker.Registry) error {
	return errors.Join(
		worker.Register(r, "team_scaling_payments_validate_eligibility", worker.Func(validatePaymentEligibility)),
		worker.Register(r, "team_scaling_payments_process_gateway_refund", worker.Func(processGatewayRefund)),
		worker.Register(r, "team_scaling_payments_update_records", worker.Func(updatePaymentRecords)),
		worker.Register(r, "team_scaling_payments_notify_customer", worker.Func(notifyRefundCustomer)),
		worker.Register(r, "team_scaling_cs_validate_refund_request", worker.Func(validateRefundRequest)),
		worker.Register(r, "team_scaling_cs_check_refund_policy", worker.Func(checkRefundPolicy)),
		worker.Register(r, "team_scaling_cs_get_manager_approval", worker.Func(getManagerApproval)),
		worker.Register(r, "team_scaling_cs_execute_refund_workflow", worker.Func(executeRefundWorkflow)),
		worker.Register(r, "team_scaling_cs_update_ticket_status", worker.Func(updateTicketStatus)),
	)
}
