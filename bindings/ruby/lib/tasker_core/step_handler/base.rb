# frozen_string_literal: true

module TaskerCore
  module StepHandler
    # The base class of every Ruby step handler. Implement call(context)
    # (context is a TaskerCore::Types::StepContext) and return
    # success(result: ...), failure(...), any value (a success), or raise.
    class Base
      attr_reader :config, :logger

      class << self
        # Every subclass, so the worker can find functional-DSL handlers by
        # name after loading handler files.
        def descendants = (@descendants ||= [])

        def inherited(subclass)
          super
          Base.descendants << subclass
        end

        # The name a functional-DSL handler registers under (nil for classes,
        # which resolve by their constant name).
        attr_accessor :dsl_handler_name
      end

      def initialize(config: {}, logger: nil)
        @config = config || {}
        @logger = logger || TaskerCore::Logger.instance
      end

      def call(_context) = raise(NotImplementedError, "#{self.class} must implement #call(context)")

      def handler_name
        self.class.dsl_handler_name || self.class.name.to_s.split('::').last.gsub(/([A-Z])/, '_\1').downcase.sub(/^_/, '')
      end

      def validate_config(config_hash) = config_hash.is_a?(Hash)
      def capabilities = ['process']

      def metadata
        { handler_name: handler_name, handler_class: self.class.name, capabilities: capabilities,
          version: self.class.const_defined?(:VERSION) ? self.class.const_get(:VERSION) : '1.0.0', ruby_version: RUBY_VERSION }
      end

      # A success; result_data: is accepted for result: (nil is refused).
      def success(result: nil, result_data: nil, metadata: {})
        actual = result.nil? ? result_data : result
        raise ArgumentError, 'result or result_data required' if actual.nil?

        Types::StepHandlerCallResult.success(result: actual, metadata: metadata)
      end

      def failure(message:, error_type: 'UnexpectedError', error_code: nil, retryable: false, metadata: {})
        Types::StepHandlerCallResult.error(message: message, error_type: error_type, error_code: error_code,
                                           retryable: retryable, metadata: metadata)
      end
    end
  end
end
