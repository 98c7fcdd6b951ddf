# frozen_string_literal: true

require 'securerandom'

# tasker-core's Ruby payments refund (payments/process_refund):
# validate_payment_eligibility -> process_gateway_refund ->
# update_payment_records -> notify_customer, over {payment_id ("pay_..."),
# refund_amount (cents), refund_reason, customer_email}. The class handlers
# simulate failures by payment id / e-mail (pay_test_ineligible: permanent,
# pay_test_processing: retried, customer@test_bounce...: permanent, ...).
module Payments
  ELIGIBILITY_FAILURES = {
    /pay_test_insufficient/ => [:permanent, 'Insufficient funds available for refund', 'INSUFFICIENT_FUNDS'],
    /pay_test_processing/ => [:retry, 'Payment is still processing, cannot refund yet', 30],
    /pay_test_ineligible/ => [:permanent, 'Payment is not eligible for refund: Payment is past refund window', 'PAYMENT_INELIGIBLE']
  }.freeze
  GATEWAY_FAILURES = {
    /pay_test_gateway_timeout/ => [:retry, 'Gateway timeout, will retry', 30],
    /pay_test_gateway_error/ => [:permanent, 'Gateway refund failed: Gateway error', 'GATEWAY_REFUND_FAILED'],
    /pay_test_rate_limit/ => [:retry, 'Gateway rate limited, will retry', 60]
  }.freeze
  RECORD_FAILURES = {
    /pay_test_record_lock/ => [:retry, 'Payment record locked, will retry', 10],
    /pay_test_record_error/ => [:retry, 'Record update failed: Database error', 30]
  }.freeze
  EMAIL_FAILURES = {
    /@test_bounce/ => [:permanent, 'Customer email bounced', 'EMAIL_BOUNCED'],
    /@test_invalid/ => [:permanent, 'Invalid customer email address', 'INVALID_EMAIL'],
    /@test_rate_limit/ => [:retry, 'Email service rate limited, will retry', 60]
  }.freeze

  def self.permanent!(message, code)
    raise TaskerCore::Errors::PermanentError.new(message, error_code: code)
  end

  # Raises the failure a simulated service gives for this key, if any.
  def self.simulate!(failures, key)
    kind, message, detail = failures.find { |pattern, _| key.to_s.match?(pattern) }&.last
    return unless kind

    kind == :permanent ? permanent!(message, detail) : raise(TaskerCore::Errors::RetryableError.new(message, retry_after: detail))
  end

  def self.validate_eligibility(payment_id, refund_amount, simulate: true)
    missing = { 'payment_id' => payment_id, 'refund_amount' => refund_amount }.select { |_, v| v.to_s.strip.empty? }.keys
    permanent!("Missing required fields for payment validation: #{missing.join(', ')}", 'MISSING_REQUIRED_FIELDS') unless missing.empty?
    permanent!("Refund amount must be positive, got: #{refund_amount}", 'INVALID_REFUND_AMOUNT') unless refund_amount.positive?
    permanent!("Invalid payment ID format: #{payment_id}", 'INVALID_PAYMENT_ID') unless payment_id.match?(/^pay_[a-zA-Z0-9_]+$/)
    simulate!(ELIGIBILITY_FAILURES, payment_id) if simulate

    { payment_validated: true, payment_id: payment_id, original_amount: refund_amount + 1000, refund_amount: refund_amount,
      payment_method: 'credit_card', gateway_provider: 'MockPaymentGateway', eligibility_status: 'eligible',
      validation_timestamp: Time.now.utc.iso8601, namespace: 'payments' }
  end

  def self.process_refund(validation, simulate: true)
    unless validation && validation['payment_validated']
      permanent!('Payment validation must be completed before processing refund', 'MISSING_VALIDATION')
    end
    simulate!(GATEWAY_FAILURES, validation['payment_id']) if simulate

    { refund_processed: true, refund_id: "rfnd_#{SecureRandom.hex(12)}", payment_id: validation['payment_id'],
      refund_amount: validation['refund_amount'], refund_status: 'processed', gateway_transaction_id: "gtx_#{SecureRandom.hex(10)}",
      gateway_provider: 'MockPaymentGateway', processed_at: Time.now.utc.iso8601,
      estimated_arrival: (Time.now.utc + (5 * 86_400)).iso8601, namespace: 'payments' }
  end

  def self.refund!(refund, message)
    refund && refund['refund_processed'] ? refund : permanent!(message, 'MISSING_REFUND')
  end

  def self.update_records(refund, simulate: true)
    refund = refund!(refund, 'Gateway refund must be completed before updating records')
    simulate!(RECORD_FAILURES, refund['payment_id']) if simulate

    { records_updated: true, payment_id: refund['payment_id'], refund_id: refund['refund_id'], record_id: "rec_#{SecureRandom.hex(8)}",
      payment_status: 'refunded', refund_status: 'completed', history_entries_created: 2, updated_at: Time.now.utc.iso8601,
      namespace: 'payments' }
  end

  def self.notify_customer(refund, customer_email, simulate: true)
    refund = refund!(refund, 'Refund must be processed before sending notification')
    permanent!('Customer email is required for notification', 'MISSING_CUSTOMER_EMAIL') unless customer_email
    permanent!("Invalid customer email format: #{customer_email}", 'INVALID_EMAIL_FORMAT') unless customer_email.match?(/\A[^@\s]+@[^@\s]+\z/)
    simulate!(EMAIL_FAILURES, customer_email) if simulate

    { notification_sent: true, customer_email: customer_email, message_id: "msg_#{SecureRandom.hex(12)}",
      notification_type: 'refund_confirmation', sent_at: Time.now.utc.iso8601, delivery_status: 'delivered',
      refund_id: refund['refund_id'], refund_amount: refund['refund_amount'], namespace: 'payments' }
  end

  module StepHandlers
    class ValidatePaymentEligibilityHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: Payments.validate_eligibility(context.get_input('payment_id'), context.get_input('refund_amount')),
                metadata: { operation: 'validate_payment_eligibility' })
      end
    end

    class ProcessGatewayRefundHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: Payments.process_refund(context.get_dependency_result('validate_payment_eligibility')),
                metadata: { operation: 'process_gateway_refund' })
      end
    end

    class UpdatePaymentRecordsHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: Payments.update_records(context.get_dependency_result('process_gateway_refund')),
                metadata: { operation: 'update_payment_records' })
      end
    end

    class NotifyCustomerHandler < TaskerCore::StepHandler::Base
      def call(context)
        success(result: Payments.notify_customer(context.get_dependency_result('process_gateway_refund'),
                                                 context.get_input('customer_email')),
                metadata: { operation: 'notify_customer' })
      end
    end
  end
end
