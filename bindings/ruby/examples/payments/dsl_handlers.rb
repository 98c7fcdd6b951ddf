# frozen_string_literal: true

require_relative 'step_handlers'

# The payments refund as functional-DSL handlers (payments_dsl), without the
# simulated service failures, as in tasker-core's twin.
module PaymentsDsl
  extend TaskerCore::StepHandler::Functional

  ValidatePaymentEligibility = step_handler('payments_dsl.step_handlers.validate_payment_eligibility',
                                            inputs: %i[payment_id refund_amount]) do |payment_id:, refund_amount:, **|
    Payments.validate_eligibility(payment_id, refund_amount, simulate: false)
  end

  ProcessGatewayRefund = step_handler('payments_dsl.step_handlers.process_gateway_refund',
                                      depends_on: { validation: 'validate_payment_eligibility_dsl' }) do |validation:, **|
    Payments.process_refund(validation, simulate: false)
  end

  UpdatePaymentRecords = step_handler('payments_dsl.step_handlers.update_payment_records',
                                      depends_on: { refund: 'process_gateway_refund_dsl' }) do |refund:, **|
    Payments.update_records(refund, simulate: false)
  end

  NotifyCustomer = step_handler('payments_dsl.step_handlers.notify_customer', depends_on: { refund: 'process_gateway_refund_dsl' },
                                                                             inputs: [:customer_email]) do |refund:, customer_email:, **|
    Payments.notify_customer(refund, customer_email, simulate: false)
  end
end
