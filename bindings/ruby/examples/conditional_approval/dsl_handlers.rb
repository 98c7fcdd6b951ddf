# frozen_string_literal: true

# Conditional approval as functional-DSL handlers (conditional_approval_dsl_rb):
# validate -> decision (below 1,000: auto_approve; below 5,000:
# manager_approval; else manager_approval and finance_review) -> finalize.
# The manager approves up to 10,000, finance up to 25,000; above, the step
# fails permanently.
module ConditionalApprovalDsl
  extend TaskerCore::StepHandler::Functional

  SMALL = 1_000
  LARGE = 5_000

  def self.approval(type, by, amount, notes, **extra)
    { approved: true, approval_type: type, approved_amount: amount, approved_by: by, approved_at: Time.now.iso8601, notes: notes }.merge(extra)
  end

  ValidateRequest = step_handler('conditional_approval_dsl_rb.step_handlers.validate_request',
                                 inputs: %i[amount requester purpose]) do |amount:, requester:, purpose:, **|
    raise 'Task context must contain amount' unless amount
    raise 'Amount must be positive' unless amount.positive?
    raise 'Task context must contain requester' if requester.to_s.empty?
    raise 'Task context must contain purpose' if purpose.to_s.empty?

    { amount: amount, requester: requester, purpose: purpose, validated_at: Time.now.iso8601 }
  end

  RoutingDecision = decision_handler('conditional_approval_dsl_rb.step_handlers.routing_decision', inputs: [:amount]) do |amount:, **|
    raise 'Amount is required for routing decision' unless amount

    if amount < SMALL
      Decision.route(['auto_approve_dsl'], route_type: 'auto_approval',
                                           reasoning: "Amount $#{amount} below $#{SMALL} threshold - auto-approval")
    elsif amount < LARGE
      Decision.route(['manager_approval_dsl'], route_type: 'manager_only',
                                               reasoning: "Amount $#{amount} requires manager approval (between $#{SMALL} and $#{LARGE})")
    else
      Decision.route(%w[manager_approval_dsl finance_review_dsl], route_type: 'dual_approval',
                                                                  reasoning: "Amount $#{amount} >= $#{LARGE} - requires both manager and finance approval")
    end
  end

  AutoApprove = step_handler('conditional_approval_dsl_rb.step_handlers.auto_approve', inputs: [:amount]) do |amount:, **|
    ConditionalApprovalDsl.approval('automatic', 'system', amount, 'Automatically approved - below manual review threshold')
  end

  ManagerApproval = step_handler('conditional_approval_dsl_rb.step_handlers.manager_approval', inputs: [:amount]) do |amount:, **|
    if amount > 10_000
      raise TaskerCore::Errors::PermanentError.new("Amount $#{amount} exceeds manager approval limit of $10,000",
                                                   error_code: 'AMOUNT_EXCEEDS_MANAGER_LIMIT', context: { amount: amount, limit: 10_000 })
    end

    ConditionalApprovalDsl.approval('manager', 'manager_system', amount, 'Approved by manager review')
  end

  FinanceReview = step_handler('conditional_approval_dsl_rb.step_handlers.finance_review', inputs: %i[amount purpose]) do |amount:, purpose:, **|
    if amount > 25_000
      raise TaskerCore::Errors::PermanentError.new("Insufficient budget for $#{amount} request", error_code: 'INSUFFICIENT_BUDGET',
                                                                                                context: { amount: amount, purpose: purpose })
    end

    ConditionalApprovalDsl.approval('finance', 'finance_system', amount, 'Approved by finance review - budget confirmed',
                                    budget_code: "BUDGET-#{purpose.upcase.gsub(/\s+/, '_')}-#{Time.now.to_i}")
  end

  PATHS = { %w[automatic] => 'auto', %w[manager] => 'manager_only', %w[finance manager] => 'dual_approval' }.freeze

  FinalizeApproval = step_handler('conditional_approval_dsl_rb.step_handlers.finalize_approval',
                                  inputs: %i[amount requester purpose]) do |amount:, requester:, purpose:, context:|
    approvals = %w[auto_approve_dsl manager_approval_dsl finance_review_dsl].filter_map do |step|
      result = context.get_dependency_result(step)
      result if result.is_a?(Hash) && result['approved'] == true
    end
    { approved: true, final_amount: amount, requester: requester, purpose: purpose,
      approval_chain: approvals.map { |a| a['approval_type'] }, approved_by: approvals.map { |a| a['approved_by'] },
      finalized_at: Time.now.iso8601, approval_path: PATHS.fetch(approvals.map { |a| a['approval_type'] }.sort, 'unknown') }
  end
end
