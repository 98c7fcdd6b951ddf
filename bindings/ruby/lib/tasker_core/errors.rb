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

      # Gives the class a keyword argument of initialize (default nil),
      # kept and read under its name, e.g. retry_after: for RetryableError.
      def self.keyword(name)
        attr_reader name

        define_method(:initialize) do |message = nil, **rest|
          value = rest.delete(name)
          super(message, **rest)
          instance_variable_set(:"@#{name}", value)
        end
      end
    end

    class ConfigurationError < ContextError; end
    class ProceduralError < ContextError; end
    class OrchestrationError < ContextError; end
    class DatabaseError < ContextError; end
    class ServerError < ContextError; end

    class FFIError < ContextError
      keyword :operation
    end

    # A transient failure; retry_after (seconds) is passed to the
    # orchestration as the step's backoff hint.
    class RetryableError < ProceduralError
      keyword :retry_after
    end

    # A failure no retry can fix: the step errors at once.
    class PermanentError < ProceduralError
      keyword :error_code
    end

    class TimeoutError < ProceduralError
      keyword :timeout_duration
    end

    class NetworkError < ProceduralError
      keyword :status_code
    end

    class ValidationError < PermanentError
      keyword :field
    end

    class NotFoundError < PermanentError
      keyword :resource_type
    end

    # Decides whether a raised exception is worth a retry, as tasker-core
    # does: the permanent classes are not, everything else is.
    class ErrorClassifier
      PERMANENT_ERROR_CLASSES = [ConfigurationError, PermanentError, DatabaseError, FFIError].freeze
      RETRYABLE_ERROR_CLASSES = [RetryableError, NetworkError, TimeoutError].freeze

      def self.retryable?(error) = PERMANENT_ERROR_CLASSES.none? { |klass| error.is_a?(klass) }
    end
  end

  # Short names some tasker-core code uses.
  Error = Errors::Error
  RetryableError = Errors::RetryableError
  PermanentError = Errors::PermanentError
  ConfigurationError = Errors::ConfigurationError
end
