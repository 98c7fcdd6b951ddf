# frozen_string_literal: true

module TaskerCore
  module StepHandler
    # tasker-core's block DSL. `include TaskerCore::StepHandler::Functional`,
    # then e.g.
    #
    #   ProcessPayment = step_handler 'payments.process', depends_on: { cart: 'validate_cart' },
    #                                                     inputs: [:payment_info] do |cart:, payment_info:, context:|
    #     { payment_id: charge(payment_info, cart['total']) }
    #   end
    #
    # Each DSL method returns a StepHandler::Base subclass registered under
    # its name. The block gets the named dependency results and task-context
    # inputs as keywords (plus context:); a Hash return is the success
    # value, nil is {}, a raised error becomes a failure (PermanentError and
    # kin: not retried).
    module Functional
      # What a decision_handler block returns.
      Decision = Struct.new(:type, :steps, :reason, :routing_context) do
        def initialize(*)
          super
          freeze
        end

        def self.route(steps, **routing_context) = new('create_steps', Array(steps), nil, routing_context)
        def self.skip(reason, **routing_context) = new('no_branches', [], reason, routing_context)
      end

      # What a batch_analyzer block returns.
      BatchConfig = Struct.new(:total_items, :batch_size, :metadata, keyword_init: true) do
        def initialize(total_items:, batch_size:, metadata: {})
          super
          freeze
        end
      end

      # `extend Functional` in a module also makes Decision and BatchConfig
      # resolvable inside it, as the top-level `include` does.
      def self.extended(base)
        super
        base.include(self) if base.instance_of?(Module)
      end

      module_function

      def _wrap_result(result)
        case result
        when Types::StepHandlerCallResult::Success, Types::StepHandlerCallResult::Error,
             Types::StepHandlerCallResult::CheckpointYield
          result
        when Hash then Types::StepHandlerCallResult.success(result: result)
        when nil then Types::StepHandlerCallResult.success(result: {})
        else Types::StepHandlerCallResult.success(result: result.respond_to?(:to_h) ? result.to_h : result)
        end
      end

      def _inject_args(context, depends_on, inputs)
        args = { context: context }
        depends_on.each do |param, step|
          step, model = step if step.is_a?(Array) && step.length == 2
          raw = context.get_dependency_result(step.to_s)
          args[param.to_sym] = model && raw.is_a?(Hash) ? _build_model(model, raw) : raw
        end
        if inputs.is_a?(Class)
          args[:inputs] = _build_model(inputs, context.context)
          args[:inputs].validate! if args[:inputs].respond_to?(:validate!)
        else
          Array(inputs).each { |key| args[key.to_sym] = context.get_input(key.to_s) }
        end
        args
      end

      # A model from a hash: a Struct by its members, else any class with
      # attribute_names (dry-struct style), given the known keys only.
      def _build_model(model, hash)
        names = model.respond_to?(:attribute_names) ? model.attribute_names : model.members
        values = names.each_with_object({}) { |n, h| h[n.to_sym] = hash[n.to_s] unless hash[n.to_s].nil? }
        model.new(**values)
      end

      # Builds the handler class: `body` runs inside the instance, gets the
      # injected keywords and the raw block result, returns the result.
      def _define(name, version, depends_on, inputs, mixin, block, &body)
        raise ArgumentError, 'block required' unless block

        Class.new(Base) do
          include mixin if mixin
          const_set(:VERSION, version)
          self.dsl_handler_name = name
          define_method(:call) do |context|
            args = Functional._inject_args(context, depends_on, inputs)
            instance_exec(context, args, block, &body)
          rescue StandardError, ScriptError => e
            Types::StepHandlerCallResult.from_exception(e)
          end
        end
      end

      def step_handler(name, depends_on: {}, inputs: [], version: '1.0.0', &block)
        Functional._define(name, version, depends_on, inputs, nil, block) do |_ctx, args, blk|
          Functional._wrap_result(blk.call(**args))
        end
      end

      def decision_handler(name, depends_on: {}, inputs: [], version: '1.0.0', &block)
        Functional._define(name, version, depends_on, inputs, Mixins::Decision, block) do |_ctx, args, blk|
          raw = blk.call(**args)
          next Functional._wrap_result(raw) unless raw.is_a?(Decision)

          data = {}
          data[:reason] = raw.reason if raw.reason
          data[:routing_context] = raw.routing_context unless raw.routing_context.empty?
          raw.type == 'create_steps' ? decision_success(steps: raw.steps, result_data: data) : decision_no_branches(result_data: data)
        end
      end

      def batch_analyzer(name, worker_template:, depends_on: {}, inputs: [], version: '1.0.0', &block)
        Functional._define(name, version, depends_on, inputs, Mixins::Batchable, block) do |_ctx, args, blk|
          raw = blk.call(**args)
          next Functional._wrap_result(raw) unless raw.is_a?(BatchConfig)

          configs = create_cursor_configs(raw.total_items, (raw.total_items.to_f / raw.batch_size).ceil)
          create_batches_outcome(worker_template_name: worker_template, cursor_configs: configs,
                                 total_items: raw.total_items, metadata: raw.metadata)
        end
      end

      def batch_worker(name, depends_on: {}, inputs: [], version: '1.0.0', &block)
        Functional._define(name, version, depends_on, inputs, Mixins::Batchable, block) do |ctx, args, blk|
          Functional._wrap_result(blk.call(**args, batch_context: get_batch_context(ctx)))
        end
      end

      def api_handler(name, base_url:, depends_on: {}, inputs: [], version: '1.0.0', timeout: nil, open_timeout: nil,
                      headers: {}, &block)
        klass = Functional._define(name, version, depends_on, inputs, Mixins::API, block) do |_ctx, args, blk|
          Functional._wrap_result(blk.call(**args, api: self))
        end
        api_config = { url: base_url, timeout: timeout, open_timeout: open_timeout, headers: headers }.compact
        klass.define_method(:initialize) { |config: {}, logger: nil| super(config: api_config.merge(config || {}), logger: logger) }
        klass
      end
    end
  end
end
