# frozen_string_literal: true

module TaskerCore
  module Types
    # What a handler returns: Success, Error, or (batch workers)
    # CheckpointYield. The factories and their keywords are tasker-core's.
    module StepHandlerCallResult
      Success = Struct.new(:result, :metadata, keyword_init: true) do
        def success = true
        def success? = true
        def checkpoint? = false
      end

      # retry_after (seconds) and backtrace are filled in from a raised
      # exception by from_exception; metadata may carry :context.
      Error = Struct.new(:error_type, :message, :error_code, :retryable, :metadata, :retry_after, :backtrace,
                         keyword_init: true) do
        def success = false
        def success? = false
        def checkpoint? = false
      end

      CheckpointYield = Struct.new(:cursor, :items_processed, :accumulated_results, keyword_init: true) do
        def success? = false
        def checkpoint? = true

        def to_checkpoint_data(event_id: nil, step_uuid: nil)
          { event_id: event_id, step_uuid: step_uuid, cursor: cursor, items_processed: items_processed,
            accumulated_results: accumulated_results }.compact
        end
      end

      class << self
        def success(result:, metadata: {}) = Success.new(result: result, metadata: metadata || {})

        def error(message:, error_type: 'UnexpectedError', error_code: nil, retryable: false, metadata: {})
          Error.new(error_type: error_type.to_s, message: message.to_s, error_code: error_code, retryable: retryable ? true : false,
                    metadata: metadata || {})
        end
        # tasker-core's examples call .failure (with message: or
        # error_message:), which its gem never defined.
        def failure(message: nil, error_message: nil, error_type: 'UnexpectedError', error_code: nil, retryable: false, metadata: {})
          error(message: message || error_message, error_type: error_type, error_code: error_code, retryable: retryable, metadata: metadata)
        end

        def checkpoint_yield(cursor:, items_processed:, accumulated_results: nil)
          unless items_processed.is_a?(Integer) && items_processed >= 0
            raise ArgumentError, "items_processed must be a non-negative integer, got #{items_processed.inspect}"
          end

          CheckpointYield.new(cursor: cursor, items_processed: items_processed, accumulated_results: accumulated_results)
        end

        # Turns whatever a handler returned into a result: a result passes
        # through, {success: true/false, ...} is read as one, anything else
        # is the success value.
        def from_handler_output(output)
          return output if output.is_a?(Success) || output.is_a?(Error) || output.is_a?(CheckpointYield)
          return success(result: output, metadata: { wrapped: true, original_type: output.class.name }) unless output.is_a?(Hash)

          get = ->(k) { output.key?(k) ? output[k] : output[k.to_s] }
          case get[:success]
          when true then success(result: get[:result] || output, metadata: get[:metadata] || {})
          when false
            error(error_type: get[:error_type] || 'UnexpectedError', message: get[:message] || 'Unknown error',
                  error_code: get[:error_code], retryable: get[:retryable] || false, metadata: get[:metadata] || {})
          else success(result: output, metadata: { wrapped: true, original_type: 'Hash' })
          end
        end

        # The failure a raised exception stands for: its class as the error
        # type, its message, backtrace and context; retryable unless
        # ErrorClassifier says it is permanent; a RetryableError's
        # retry_after becomes the backoff hint.
        def from_exception(exception)
          metadata = {}
          metadata[:context] = exception.context if exception.respond_to?(:context) && exception.context && !exception.context.empty?
          metadata[:field] = exception.field if exception.respond_to?(:field) && exception.field
          metadata[:exception_class] = exception.class.name
          retry_after = exception.respond_to?(:retry_after) ? exception.retry_after : nil
          metadata[:retry_after] = retry_after if retry_after
          Error.new(error_type: exception.respond_to?(:error_class) ? exception.error_class : exception.class.name,
                    message: exception.message, error_code: exception.respond_to?(:error_code) ? exception.error_code : nil,
                    retryable: Errors::ErrorClassifier.retryable?(exception), metadata: metadata,
                    retry_after: retry_after, backtrace: exception.backtrace)
        end
      end
    end
  end
end
