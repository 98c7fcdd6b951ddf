# frozen_string_literal: true

module TaskerCore
  module Types
    # A template step's handler block: which callable, which method on it
    # (default call), which resolver, and its initialization.
    HandlerDefinition = Struct.new(:callable, :initialization, :handler_method, :resolver, keyword_init: true) do
      def effective_method = handler_method.to_s.empty? ? 'call' : handler_method.to_s
      def uses_method_dispatch? = effective_method != 'call'
      def has_resolver_hint? = !resolver.to_s.empty? # rubocop:disable Naming/PredicateName
    end

    # The outcome a decision step puts in its result (decision_point_outcome).
    module DecisionPointOutcome
      Outcome = Struct.new(:type, :step_names) do
        def to_h = type == 'no_branches' ? { type: type } : { type: type, step_names: step_names }
        def requires_step_creation? = type == 'create_steps'
      end

      def self.no_branches = Outcome.new('no_branches', [])

      def self.create_steps(step_names)
        raise ArgumentError, 'step_names cannot be empty' if step_names.nil? || step_names.empty?

        Outcome.new('create_steps', Array(step_names))
      end

      def self.from_hash(hash)
        return nil unless hash.is_a?(Hash)

        case hash[:type] || hash['type']
        when 'no_branches' then no_branches
        when 'create_steps'
          names = hash[:step_names] || hash['step_names']
          create_steps(names) if names.is_a?(Array) && !names.empty?
        end
      end
    end

    # The outcome a batchable step puts in its result (batch_processing_outcome).
    module BatchProcessingOutcome
      def self.no_batches = { 'type' => 'no_batches' }

      def self.create_batches(worker_template_name:, worker_count:, cursor_configs:, total_items:)
        raise ArgumentError, 'worker_template_name cannot be empty' if worker_template_name.to_s.empty?
        raise ArgumentError, 'cursor_configs cannot be empty' if cursor_configs.nil? || cursor_configs.empty?
        if cursor_configs.size != worker_count
          raise ArgumentError, "cursor_configs length (#{cursor_configs.size}) must equal worker_count (#{worker_count})"
        end

        { 'type' => 'create_batches', 'worker_template_name' => worker_template_name, 'worker_count' => worker_count,
          'cursor_configs' => cursor_configs, 'total_items' => total_items }
      end
    end
  end
end
