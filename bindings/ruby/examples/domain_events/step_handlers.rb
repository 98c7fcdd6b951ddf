# frozen_string_literal: true

require 'securerandom'

# tasker-core's Ruby domain-event example (domain_event_publishing): four
# steps whose templates declare the events they publish (order.validated,
# payment.processed, inventory.updated, notification.sent). The handlers only
# compute; publishing is the worker's job. Context: {order_id, customer_id,
# amount, simulate_failure}.
module DomainEvents
  def self.validate_order(ctx, mode)
    amount = ctx['amount'] || 0
    if mode == 'strict' && amount <= 0
      return TaskerCore::Types::StepHandlerCallResult.failure(
        error_message: 'Amount must be positive in strict mode', error_code: 'VALIDATION_ERROR', error_type: 'ValidationError',
        retryable: false, metadata: { validation_mode: mode }
      )
    end

    checks = %w[order_id_present customer_id_present]
    checks << 'amount_positive' if amount.positive?
    TaskerCore::Types::StepHandlerCallResult.success(
      result: { order_id: ctx['order_id'] || SecureRandom.uuid, validation_timestamp: Time.now.iso8601, validation_checks: checks,
                validated: true },
      metadata: { validation_mode: mode }
    )
  end

  def self.process_payment(ctx, provider)
    if ctx['simulate_failure']
      return TaskerCore::Types::StepHandlerCallResult.failure(
        error_message: 'Simulated payment failure', error_code: 'PAYMENT_DECLINED', error_type: 'PaymentError', retryable: true,
        metadata: { order_id: ctx['order_id'] || 'unknown', failed_at: Time.now.iso8601 }
      )
    end

    TaskerCore::Types::StepHandlerCallResult.success(
      result: { transaction_id: "TXN-#{SecureRandom.uuid}", amount: ctx['amount'] || 0, payment_method: 'credit_card',
                processed_at: Time.now.iso8601, status: 'success' },
      metadata: { payment_provider: provider }
    )
  end

  def self.update_inventory(ctx, source)
    TaskerCore::Types::StepHandlerCallResult.success(
      result: { order_id: ctx['order_id'] || 'unknown', items: [{ sku: 'ITEM-001', quantity: 1 }, { sku: 'ITEM-002', quantity: 2 }],
                success: true, updated_at: Time.now.iso8601 },
      metadata: { inventory_source: source }
    )
  end

  def self.send_notification(ctx, channel)
    TaskerCore::Types::StepHandlerCallResult.success(
      result: { notification_id: "NOTIF-#{SecureRandom.uuid}", channel: channel, recipient: ctx['customer_id'] || 'unknown',
                sent_at: Time.now.iso8601, status: 'delivered' },
      metadata: { notification_type: channel }
    )
  end

  module StepHandlers
    class ValidateOrderHandler < TaskerCore::StepHandler::Base
      def call(context) = DomainEvents.validate_order(context.task.context, config['validation_mode'] || 'standard')
    end

    class ProcessPaymentHandler < TaskerCore::StepHandler::Base
      def call(context) = DomainEvents.process_payment(context.task.context, config['payment_provider'] || 'mock')
    end

    class UpdateInventoryHandler < TaskerCore::StepHandler::Base
      def call(context) = DomainEvents.update_inventory(context.task.context, config['inventory_source'] || 'mock')
    end

    class SendNotificationHandler < TaskerCore::StepHandler::Base
      def call(context) = DomainEvents.send_notification(context.task.context, config['notification_type'] || 'email')
    end
  end
end
