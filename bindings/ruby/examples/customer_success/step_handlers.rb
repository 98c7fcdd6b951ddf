# frozen_string_literal: true

require 'securerandom'
require 'time'
require_relative '../payments/step_handlers'

# tasker-core's Ruby customer-success refund (customer_success/process_refund):
# validate_refund_request -> check_refund_policy -> get_manager_approval ->
# execute_refund_workflow -> update_ticket_status, over {ticket_id,
# customer_id, refund_amount (cents), refund_reason, customer_email}. The
# customer's tier comes from its id (vip/premium, gold, else standard); only
# standard needs a manager. The class handlers simulate failures by ticket
# id (ticket_closed: permanent, ticket_pending: retried, ...).
module CustomerSuccess
  POLICIES = {
    'standard' => { window_days: 30, requires_approval: true, max_amount: 10_000 },
    'gold' => { window_days: 60, requires_approval: false, max_amount: 50_000 },
    'premium' => { window_days: 90, requires_approval: false, max_amount: 100_000 }
  }.freeze
  TICKET_FAILURES = {
    /ticket_closed/ => [:permanent, 'Cannot process refund for closed ticket', 'TICKET_CLOSED'],
    /ticket_cancelled/ => [:permanent, 'Cannot process refund for cancelled ticket', 'TICKET_CANCELLED'],
    /ticket_duplicate/ => [:permanent, 'Cannot process refund for duplicate ticket', 'TICKET_DUPLICATE']
  }.freeze
  APPROVAL_FAILURES = {
    /ticket_denied/ => [:permanent, 'Manager denied refund request: Manager denied refund request', 'APPROVAL_DENIED'],
    /ticket_pending/ => [:retry, 'Waiting for manager approval', 60]
  }.freeze
  UPDATE_FAILURES = {
    /ticket_locked/ => [:retry, 'Ticket locked by another agent, will retry', 15],
    /ticket_update_error/ => [:retry, 'Ticket update failed: System error updating ticket', 30]
  }.freeze

  def self.permanent!(message, code) = Payments.permanent!(message, code)
  def self.simulate!(failures, key) = Payments.simulate!(failures, key)

  def self.tier(customer_id)
    case customer_id.to_s
    when /vip/, /premium/ then 'premium'
    when /gold/ then 'gold'
    else 'standard'
    end
  end

  def self.validate_request(ticket_id, customer_id, refund_amount, simulate: true)
    missing = { 'ticket_id' => ticket_id, 'customer_id' => customer_id, 'refund_amount' => refund_amount }
              .select { |_, v| v.to_s.strip.empty? }.keys
    permanent!("Missing required fields for refund validation: #{missing.join(', ')}", 'MISSING_REQUIRED_FIELDS') unless missing.empty?
    simulate!(TICKET_FAILURES, ticket_id) if simulate

    { request_validated: true, ticket_id: ticket_id, customer_id: customer_id, ticket_status: 'open', customer_tier: tier(customer_id),
      original_purchase_date: (Time.now.utc - (30 * 86_400)).iso8601, payment_id: "pay_#{SecureRandom.hex(8)}",
      validation_timestamp: Time.now.utc.iso8601, namespace: 'customer_success' }
  end

  def self.check_policy(validation, refund_amount)
    permanent!('Request validation must be completed before policy check', 'MISSING_VALIDATION') unless validation && validation['request_validated']

    tier = validation['customer_tier'] || 'standard'
    policy = POLICIES[tier] || POLICIES['standard']
    days = ((Time.now - Time.parse(validation['original_purchase_date'])) / 86_400).to_i
    if days > policy[:window_days]
      permanent!("Refund request outside policy window: #{days} days (max: #{policy[:window_days]} days)", 'OUTSIDE_REFUND_WINDOW')
    end
    if refund_amount > policy[:max_amount]
      permanent!("Refund amount exceeds policy limit: $#{refund_amount / 100.0} (max: $#{policy[:max_amount] / 100.0})",
                 'EXCEEDS_AMOUNT_LIMIT')
    end
    { policy_checked: true, policy_compliant: true, customer_tier: tier, refund_window_days: policy[:window_days],
      days_since_purchase: days, within_refund_window: true, requires_approval: policy[:requires_approval],
      max_allowed_amount: policy[:max_amount], policy_checked_at: Time.now.utc.iso8601, namespace: 'customer_success' }
  end

  def self.manager_approval(policy, validation, simulate: true)
    permanent!('Policy check must be completed before approval', 'MISSING_POLICY_CHECK') unless policy && policy['policy_checked']

    required = policy['requires_approval'] ? true : false
    simulate!(APPROVAL_FAILURES, validation && validation['ticket_id']) if simulate && required
    approval = if required
                 { approval_id: "appr_#{SecureRandom.hex(8)}", manager_id: "mgr_#{rand(1..5)}",
                   manager_notes: "Approved refund request for customer #{validation && validation['customer_id']}" }
               else
                 { approval_id: nil, manager_id: nil, manager_notes: nil }
               end
    { approval_obtained: true, approval_required: required, auto_approved: !required }
      .merge(approval).merge(approved_at: Time.now.utc.iso8601, namespace: 'customer_success')
  end

  def self.execute_refund(approval, validation, correlation_id)
    permanent!('Manager approval must be obtained before executing refund', 'MISSING_APPROVAL') unless approval && approval['approval_obtained']
    permanent!('Payment ID not found in validation results', 'MISSING_PAYMENT_ID') unless validation && validation['payment_id']

    { task_delegated: true, target_namespace: 'payments', target_workflow: 'process_refund',
      delegated_task_id: "task_#{SecureRandom.uuid}", delegated_task_status: 'created', delegation_timestamp: Time.now.utc.iso8601,
      correlation_id: correlation_id || "cs-#{SecureRandom.hex(8)}", namespace: 'customer_success' }
  end

  def self.update_ticket(delegation, validation, refund_amount, simulate: true)
    permanent!('Refund workflow must be executed before updating ticket', 'MISSING_DELEGATION') unless delegation && delegation['task_delegated']

    ticket_id = validation && validation['ticket_id']
    simulate!(UPDATE_FAILURES, ticket_id) if simulate
    note = "Refund of $#{format('%.2f', (refund_amount || 0) / 100.0)} processed successfully. " \
           "Delegated task ID: #{delegation['delegated_task_id']}. Correlation ID: #{delegation['correlation_id']}"
    { ticket_updated: true, ticket_id: ticket_id, previous_status: 'in_progress', new_status: 'resolved', resolution_note: note,
      updated_at: Time.now.utc.iso8601, refund_completed: true, delegated_task_id: delegation['delegated_task_id'],
      namespace: 'customer_success' }
  end

  module StepHandlers
    class ValidateRefundRequestHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: CustomerSuccess.validate_request(*%w[ticket_id customer_id refund_amount].map { |k| context.get_input(k) }),
                metadata: { operation: 'validate_refund_request' })
      end
    end

    class CheckRefundPolicyHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: CustomerSuccess.check_policy(context.get_dependency_result('validate_refund_request'),
                                                     context.get_input('refund_amount')),
                metadata: { operation: 'check_refund_policy' })
      end
    end

    class GetManagerApprovalHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: CustomerSuccess.manager_approval(context.get_dependency_result('check_refund_policy'),
                                                         context.get_dependency_result('validate_refund_request')),
                metadata: { operation: 'get_manager_approval' })
      end
    end

    class ExecuteRefundWorkflowHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: CustomerSuccess.execute_refund(context.get_dependency_result('get_manager_approval'),
                                                       context.get_dependency_result('validate_refund_request'),
                                                       context.get_input('correlation_id')),
                metadata: { operation: 'execute_refund_workflow' })
      end
    end

    class UpdateTicketStatusHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: CustomerSuccess.update_ticket(context.get_dependency_result('execute_refund_workflow'),
                                                      context.get_dependency_result('validate_refund_request'),
                                                      context.get_input('refund_amount')),
                metadata: { operation: 'update_ticket_status' })
      end
    end
  end
end
