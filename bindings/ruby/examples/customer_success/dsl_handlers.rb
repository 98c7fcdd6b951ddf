# frozen_string_literal: true

require_relative 'step_handlers'

# The customer-success refund as functional-DSL handlers
# (customer_success_dsl), without the simulated failures.
module CustomerSuccessDsl
  extend TaskerCore::StepHandler::Functional

  ValidateRefundRequest = step_handler('customer_success_dsl.step_handlers.validate_refund_request',
                                       inputs: %i[ticket_id customer_id refund_amount]) do |ticket_id:, customer_id:, refund_amount:, **|
    CustomerSuccess.validate_request(ticket_id, customer_id, refund_amount, simulate: false)
  end

  CheckRefundPolicy = step_handler('customer_success_dsl.step_handlers.check_refund_policy',
                                   depends_on: { validation: 'validate_refund_request_dsl' },
                                   inputs: [:refund_amount]) do |validation:, refund_amount:, **|
    CustomerSuccess.check_policy(validation, refund_amount)
  end

  GetManagerApproval = step_handler('customer_success_dsl.step_handlers.get_manager_approval',
                                    depends_on: { policy: 'check_refund_policy_dsl',
                                                  validation: 'validate_refund_request_dsl' }) do |policy:, validation:, **|
    CustomerSuccess.manager_approval(policy, validation, simulate: false)
  end

  ExecuteRefundWorkflow = step_handler('customer_success_dsl.step_handlers.execute_refund_workflow',
                                       depends_on: { approval: 'get_manager_approval_dsl', validation: 'validate_refund_request_dsl' },
                                       inputs: [:correlation_id]) do |approval:, validation:, correlation_id:, **|
    CustomerSuccess.execute_refund(approval, validation, correlation_id)
  end

  UpdateTicketStatus = step_handler('customer_success_dsl.step_handlers.update_ticket_status',
                                    depends_on: { delegation: 'execute_refund_workflow_dsl', validation: 'validate_refund_request_dsl' },
                                    inputs: [:refund_amount]) do |delegation:, validation:, refund_amount:, **|
    CustomerSuccess.update_ticket(delegation, validation, refund_amount, simulate: false)
  end
end
