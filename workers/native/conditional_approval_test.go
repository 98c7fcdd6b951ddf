package native

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/workertest"
)

const approvalTemplateNS = "conditional_approval_rust"

func TestConditionalApprovalRouting(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		steps  []string
		route  string
	}{
		{500, []string{"auto_approve"}, "auto_approval"},
		{999, []string{"auto_approve"}, "auto_approval"},
		{1000, []string{"manager_approval"}, "manager_only"},
		{3000, []string{"manager_approval"}, "manager_only"},
		{5000, []string{"manager_approval", "finance_review"}, "dual_approval"},
		{10000, []string{"manager_approval", "finance_review"}, "dual_approval"},
	} {
		r := workertest.Execute(handler(t, approvalPrefix+"RoutingDecisionHandler"),
			workertest.NewStep("routing_decision").WithTask(approvalTemplateNS, "approval_routing", "1.0.0").
				WithContext(map[string]any{"amount": tc.amount, "requester": "r", "purpose": "p"}))
		v := valueOf(t, r)
		require.Equal(t, tc.route, v["route_type"], tc.amount)
		var d worker.Decision
		require.NoError(t, workertest.DecodeValue(r, &d))
		require.Equal(t, tc.steps, d.Steps(), tc.amount)
	}
	r := workertest.Execute(handler(t, approvalPrefix+"RoutingDecisionHandler"), workertest.NewStep("routing_decision"))
	require.False(t, r.IsSuccess())
	require.Equal(t, "MISSING_AMOUNT", r.ErrorCode())
}

func TestConditionalApprovalValidateAndFinalize(t *testing.T) {
	for ctx, code := range map[string]string{
		`{}`:                                     "MISSING_AMOUNT",
		`{"amount": 0}`:                          "INVALID_AMOUNT",
		`{"amount": 5}`:                          "MISSING_REQUESTER",
		`{"amount": 5, "requester": "r"}`:        "MISSING_PURPOSE",
		`{"amount": 5, "requester": "", "p": 1}`: "MISSING_REQUESTER",
	} {
		r := workertest.Execute(handler(t, approvalPrefix+"ValidateRequestHandler"),
			workertest.NewStep("validate_request").WithContext(json.RawMessage(ctx)))
		require.False(t, r.IsSuccess(), ctx)
		require.False(t, r.Retryable(), ctx)
		require.Equal(t, code, r.ErrorCode(), ctx)
	}
	dual := workertest.NewStep("finalize_approval").WithContext(map[string]any{"amount": 10000, "requester": "r", "purpose": "p"}).
		WithDependency("manager_approval", map[string]any{"approved": true, "approval_type": "manager", "approved_by": "m"}).
		WithDependency("finance_review", map[string]any{"approved": true, "approval_type": "finance", "approved_by": "f"})
	v := valueOf(t, workertest.Execute(handler(t, approvalPrefix+"FinalizeApprovalHandler"), dual))
	require.Equal(t, "dual_approval", v["approval_path"])
	require.Equal(t, []any{"finance", "manager"}, v["approval_chain"])
	auto := workertest.NewStep("finalize_approval").WithContext(map[string]any{"amount": 500}).
		WithDependency("auto_approve", map[string]any{"approved": true, "approval_type": "automatic", "approved_by": "system"})
	v = valueOf(t, workertest.Execute(handler(t, approvalPrefix+"FinalizeApprovalHandler"), auto))
	require.Equal(t, "auto", v["approval_path"])
}
