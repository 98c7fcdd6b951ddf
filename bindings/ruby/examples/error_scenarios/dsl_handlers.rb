# frozen_string_literal: true

# Functional-DSL handlers for the test_errors_dsl templates: one succeeds, one
# raises a PermanentError (no retry), one a RetryableError with retry_after.
module ErrorScenariosDsl
  extend TaskerCore::StepHandler::Functional

  Success = step_handler('error_scenarios_dsl.step_handlers.success') do |context:|
    TaskerCore::Types::StepHandlerCallResult.success(
      result: { status: 'success', message: 'Step completed successfully', timestamp: Time.now.utc.iso8601 },
      metadata: { step_name: context.step_name, handler: 'ErrorSuccessDslHandler' }
    )
  end

  Permanent = step_handler('error_scenarios_dsl.step_handlers.permanent_error') do |**|
    raise TaskerCore::Errors::PermanentError.new('Invalid payment method: test_invalid_card',
                                                 context: { error_code: 'INVALID_PAYMENT_METHOD', card_type: 'test_invalid_card' })
  end

  Retryable = step_handler('error_scenarios_dsl.step_handlers.retryable_error') do |context:|
    attempt = context.retry_count + 1
    raise TaskerCore::Errors::RetryableError.new("Payment service timeout after 30s (attempt #{attempt})", retry_after: 5,
                                                 context: { error_code: 'SERVICE_TIMEOUT', retry_count: context.retry_count })
  end
end
