# frozen_string_literal: true

# Functional-DSL handlers for the resolver_tests_dsl_rb template: the class
# handler's four methods (call, validate, process, refund) as four handlers.
module ResolverTestsDsl
  extend TaskerCore::StepHandler::Functional

  def self.payload(context, method, handler, **fields)
    { invoked_method: method, handler: handler, step_name: context.step_name }.merge(fields)
  end

  Call = step_handler('resolver_tests_dsl_rb.step_handlers.multi_method_call') do |context:|
    ResolverTestsDsl.payload(context, 'call', 'MultiMethodCallDslHandler', message: 'Default call method invoked',
                                                                           input_received: context.get_input('data') || {})
  end

  Validate = step_handler('resolver_tests_dsl_rb.step_handlers.multi_method_validate') do |context:|
    input = context.get_input('data') || {}
    unless input.key?('amount')
      next TaskerCore::Types::StepHandlerCallResult.failure(message: 'Validation failed: missing required field "amount"',
                                                            error_type: 'validation_error', retryable: false)
    end

    ResolverTestsDsl.payload(context, 'validate', 'MultiMethodValidateDslHandler', message: 'Validation completed successfully',
                                                                                   validated: true, input_validated: input)
  end

  Process = step_handler('resolver_tests_dsl_rb.step_handlers.multi_method_process') do |context:|
    amount = (context.get_input('data') || {})['amount'] || 0
    processed = amount * 1.1
    ResolverTestsDsl.payload(context, 'process', 'MultiMethodProcessDslHandler', message: 'Processing completed',
                                                                                 original_amount: amount, processed_amount: processed,
                                                                                 processing_fee: processed - amount)
  end

  Refund = step_handler('resolver_tests_dsl_rb.step_handlers.multi_method_refund') do |context:|
    data = context.get_input('data') || {}
    ResolverTestsDsl.payload(context, 'refund', 'MultiMethodRefundDslHandler', message: 'Refund processed',
                                                                               refund_amount: data['amount'] || 0,
                                                                               refund_reason: data['reason'] || 'not_specified',
                                                                               refund_id: "refund_#{Time.now.to_i}")
  end
end
