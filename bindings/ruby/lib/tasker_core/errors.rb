# frozen_string_literal: true

module TaskerCore
  # tasker-core's error classes. A handler raises RetryableError (or one of
  # its kin) for a transient failure and PermanentError (or ValidationError,
  # NotFoundError) for one that no retry can fix; ErrorClassifier decides for
  # everything else. Retrying itself is the orchestration's job.
  module Errors
    class Error < StandardError
      # The error type reported with the step result.
      def error_class = self.class.name.split('::').last
    end

    # Errors that carry a context hash; unknown keywords land in it too, so
    # handlers written for tasker-core's variants (error_category: ...) load.
    class ContextError < Error
      attr_reader :context

      def initialize(message = nil, context: {}, **extra)
        super(message)
        @context = extra.empty? ? context : (context || {}).merge(extra)
      end
    end

    class ConfigurationError < ContextError; end
    class ProceduralError < ContextError; end
    class OrchestrationError < ContextError; end
    class DatabaseError < ContextError; end
    class ServerError < ContextError; end

    class FFIError < ContextError
      attr_reader :operation

      def initialize(message = nil, operation: nil, **rest)
        super(message, **rest)
        @operation = operation
      end
    end

    # A transient failure; retry_after (seconds) is passed to the
    # orchestration as the step's backoff hint.
    class RetryableError < ProceduralError
      attr_reader :retry_after

      def initialize(message = nil, retry_after: nil, **rest)
        super(message, **rest)
        @retry_after = retry_after
      end
    end

    # A failure no retry can fix: the step errors at once.
    class PermanentError < ProceduralError
      attr_reader :error_code

      def initialize(message = nil, error_code: nil, **rest)
        super(message, **rest)
        @error_code = error_code
      end
    end

    class TimeoutError < ProceduralError
      attr_reader :timeout_duration

      def initialize(message = nil, timeout_duration: nil, **rest)
        super(message, **rest)
        @timeout_duration = timeout_duration
      end
    end

    class NetworkError < ProceduralError
      attr_reader :status_code

      def initialize(message = nil, status_code: nil, **rest)
        super(message, **rest)
        @status_code = status_code
      end
    end

    class ValidationError < PermanentError
      attr_reader :field

      def initialize(message = nil, field: nil, **rest)
        super(message, **rest)
        @field = field
      end
    end

    class NotFoundError < PermanentError
      attr_reader :resource_type

      def initialize(message = nil, resource_type: nil, **rest)
        super(message, **rest)
        @resource_type = resource_type
      end
    end

    # Decides whether a raised exception is worth a retry, as tasker-core
    # does: the permanent classes are not, everything else is.
    class ErrorClassifier
      PERMANENT_ERROR_CLASSES = [ConfigurationError, PermanentError, DatabaseError, FFIError].freeze
      RETRYABLE_ERROR_CLASSES = [RetryableError, NetworkError, TimeoutError].freeze

      def self.retryable?(error)
        PERMANENT_ERROR_CLASSES.none? { |klass| error.is_a?(klass) }
      end
    end
  end

  # Short names some tasker-core code uses.
  Error = Errors::Error
  RetryableError = Errors::RetryableError
  PermanentError = Errors::PermanentError
  ConfigurationError = Errors::ConfigurationError
end
