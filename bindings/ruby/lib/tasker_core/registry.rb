# frozen_string_literal: true

require 'singleton'

module TaskerCore
  # Finding the handler for a template's handler block: explicit
  # registrations first, then the callable as a Ruby constant; handler.method
  # picks the method that runs, handler.resolver forces one resolver.
  module Registry
    module Resolvers
      # Shared instantiation: config: initialization when initialize takes it.
      class BaseResolver
        # Whether each handler class's initialize takes config:, worked out
        # on its first step (reading a method's parameters costs about as
        # much as building the handler).
        TAKES_CONFIG = {}.compare_by_identity

        def registered_callables = []

        def instantiate(klass, initialization)
          return klass unless klass.is_a?(Class)

          takes_config = TAKES_CONFIG.fetch(klass) do
            params = klass.instance_method(:initialize).parameters
            TAKES_CONFIG[klass] = params.any? { |type, name| %i[key keyreq].include?(type) && name == :config } ||
                                  params.any? { |type, _| type == :keyrest }
          end
          takes_config ? klass.new(config: initialization || {}) : klass.new
        end
      end

      # Callables registered by name (register_handler); priority 10.
      class ExplicitMappingResolver < BaseResolver
        def initialize(name = 'explicit_mapping')
          super()
          @name = name
          @handlers = {}
          @lock = Mutex.new
        end

        def name = @name
        def priority = 10
        def can_resolve?(definition, _config = {}) = @lock.synchronize { @handlers.key?(definition.callable.to_s) }
        def registered_callables = @lock.synchronize { @handlers.keys }
        def register(key, handler) = @lock.synchronize { @handlers[key.to_s] = handler }
        def unregister(key) = @lock.synchronize { @handlers.delete(key.to_s) }
        def registered?(key) = @lock.synchronize { @handlers.key?(key.to_s) }
        def clear! = @lock.synchronize { @handlers.clear }
        def size = @lock.synchronize { @handlers.size }

        def resolve(definition, _config = {})
          handler = @lock.synchronize { @handlers[definition.callable.to_s] }
          handler && instantiate(handler, definition.initialization)
        end
      end

      # A callable that names a class ("Payments::RefundHandler"); priority 100.
      class ClassConstantResolver < BaseResolver
        def name = 'class_constant'
        def priority = 100
        def can_resolve?(definition, _config = {}) = definition.callable.to_s.match?(/\A[A-Z]/)

        def resolve(definition, _config = {})
          klass = Object.const_get(definition.callable.to_s)
          return nil unless klass.is_a?(Class) && klass.method_defined?(definition.effective_method.to_sym)

          instantiate(klass, definition.initialization)
        rescue NameError
          nil
        end
      end

      # Makes call(context) run another method of the handler.
      class MethodDispatchWrapper
        attr_reader :handler, :target_method

        def initialize(handler, target_method)
          @handler = handler
          @target_method = target_method.to_sym
          raise ArgumentError, "Handler #{handler.class} does not respond to ##{@target_method}" unless handler.respond_to?(@target_method)
        end

        def call(*args, **kw, &) = @handler.public_send(@target_method, *args, **kw, &)
        def handler_class = @handler.class
        def unwrap = @handler
        def wraps?(klass) = @handler.is_a?(klass)
        def respond_to_missing?(name, include_private = false) = @handler.respond_to?(name, include_private) || super

        def method_missing(name, *args, &)
          @handler.respond_to?(name) ? @handler.public_send(name, *args, &) : super
        end
      end
    end

    class ResolverChain
      class ResolverNotFoundError < StandardError; end

      def self.default = new.add_resolver(Resolvers::ExplicitMappingResolver.new).add_resolver(Resolvers::ClassConstantResolver.new)

      def initialize
        @resolvers = []
      end

      def add_resolver(resolver)
        @resolvers = (@resolvers.reject { |r| r.name == resolver.name } << resolver).sort_by(&:priority)
        self
      end
      alias with_resolver add_resolver

      def remove_resolver(name) = @resolvers.find { |r| r.name == name }&.tap { |r| @resolvers -= [r] }
      def get_resolver(name) = @resolvers.find { |r| r.name == name }
      def explicit_resolver = get_resolver('explicit_mapping')
      def resolver_names = @resolvers.map(&:name)
      def size = @resolvers.size
      def registered_callables = @resolvers.flat_map(&:registered_callables).uniq

      def register(key, handler)
        (explicit_resolver or raise 'No ExplicitMappingResolver in chain').register(key, handler)
        self
      end

      def can_resolve?(definition, config = {}) = candidates(definition).any? { |r| r.can_resolve?(definition, config) }

      def resolve(definition, config = {})
        candidates(definition).each do |resolver|
          next unless resolver.can_resolve?(definition, config)

          handler = resolver.resolve(definition, config)
          return wrap_for_method_dispatch(handler, definition) if handler
        end
        nil
      end

      def wrap_for_method_dispatch(handler, definition)
        return handler unless definition.uses_method_dispatch?
        return nil unless handler.respond_to?(definition.effective_method)

        Resolvers::MethodDispatchWrapper.new(handler, definition.effective_method)
      end

      private

      def candidates(definition)
        return @resolvers unless definition.has_resolver_hint?

        [get_resolver(definition.resolver) || raise(ResolverNotFoundError, "Unknown resolver: '#{definition.resolver}'")]
      end
    end

    # The process-wide registry (tasker-core's HandlerRegistry.instance).
    class HandlerRegistry
      include Singleton

      attr_reader :resolver_chain

      def initialize
        @resolver_chain = ResolverChain.default
      end

      # handler_spec: a callable String, a HandlerDefinition, or a step
      # definition's handler. Returns a handler instance (new each time), or
      # nil when nothing resolves it.
      def resolve_handler(handler_spec) = @resolver_chain.resolve(to_definition(handler_spec))
      alias resolve resolve_handler

      def register_handler(callable, handler_class) = @resolver_chain.register(callable, handler_class)
      alias register register_handler

      def handler_available?(callable) = @resolver_chain.can_resolve?(to_definition(callable))
      alias is_registered handler_available?

      def registered_handlers = @resolver_chain.registered_callables.sort
      alias list_handlers registered_handlers

      def add_resolver(resolver) = @resolver_chain.add_resolver(resolver)

      # Registers every loaded handler class that answers to a name other
      # than its constant: functional-DSL handlers and classes overriding
      # handler_name, as tasker-core's test environment did.
      def register_named_handlers
        StepHandler::Base.descendants.each_with_object([]) do |klass, names|
          name = klass.dsl_handler_name
          if name.nil? && klass.instance_method(:handler_name).owner != StepHandler::Base
            name = klass.new.handler_name
          end
          next if name.nil? || name == klass.name

          register_handler(name, klass)
          names << name
        rescue StandardError, ScriptError => e
          TaskerCore::Logger.instance.warn("cannot read the handler name of #{klass}: #{e.class}: #{e.message}")
        end
      end

      private

      def to_definition(spec)
        case spec
        when Types::HandlerDefinition then spec
        when Models::HandlerWrapper then spec.to_definition
        when Hash
          h = Models.indifferent(spec)
          Types::HandlerDefinition.new(callable: h[:callable].to_s, initialization: h[:initialization] || {},
                                       handler_method: h[:method] || h[:handler_method], resolver: h[:resolver])
        else Types::HandlerDefinition.new(callable: spec.to_s, initialization: {})
        end
      end
    end
  end
end
