# frozen_string_literal: true

module TaskerCore
  module BatchProcessing
    # A batch worker's view of its inputs: the cursor range the analyzer gave
    # it, whether it is a no-op placeholder, and its last checkpoint.
    class BatchWorkerContext
      attr_reader :cursor, :batch_metadata, :is_no_op, :checkpoint

      def self.from_step_data(workflow_step) = new(workflow_step)

      def initialize(workflow_step)
        inputs = HashWithIndifferentAccess.new(workflow_step.inputs || {})
        @is_no_op = inputs[:is_no_op] == true
        @checkpoint = HashWithIndifferentAccess.new(workflow_step.checkpoint || {})
        @cursor = @is_no_op ? HashWithIndifferentAccess.new : (inputs[:cursor] || HashWithIndifferentAccess.new)
        @batch_metadata = @is_no_op ? HashWithIndifferentAccess.new : (inputs[:batch_metadata] || HashWithIndifferentAccess.new)
        validate_cursor! unless @is_no_op
      end

      def start_cursor = cursor[:start_cursor].to_i
      def end_cursor = cursor[:end_cursor].to_i
      def batch_id = cursor[:batch_id] || 'unknown'
      def no_op? = @is_no_op
      def checkpoint_cursor = checkpoint[:cursor]
      def accumulated_results = checkpoint[:accumulated_results]
      def checkpoint_items_processed = checkpoint[:items_processed] || 0
      def has_checkpoint? = !checkpoint[:cursor].nil? # rubocop:disable Naming/PredicateName

      private

      def validate_cursor!
        raise ArgumentError, 'Missing cursor configuration' if cursor.empty?
        raise ArgumentError, 'Missing batch_id' unless cursor[:batch_id]
        raise ArgumentError, 'Missing start_cursor' unless cursor.key?(:start_cursor)
        raise ArgumentError, 'Missing end_cursor' unless cursor.key?(:end_cursor)

        from, to = cursor.values_at(:start_cursor, :end_cursor)
        return unless from.is_a?(Integer) || to.is_a?(Integer)
        raise ArgumentError, "Mixed cursor types not allowed: start=#{from.class}, end=#{to.class}" unless from.is_a?(Integer) && to.is_a?(Integer)
        raise ArgumentError, "cursor range must be 0 <= start <= end, got #{from}..#{to}" if from.negative? || from > to
      end
    end

    # What a convergence step after a batch sees: the analyzer's result and
    # the results of the workers whose step names start with a prefix.
    class BatchAggregationScenario
      attr_reader :type, :batchable_result, :batch_results, :worker_count

      def self.detect(dependency_results, batchable_step_name, batch_worker_prefix) = new(dependency_results, batchable_step_name, batch_worker_prefix)

      def initialize(dependency_results, batchable_step_name, batch_worker_prefix)
        @batchable_result = dependency_results.get_results(batchable_step_name)
        @batch_results = {}
        dependency_results.each_key do |name|
          @batch_results[name] = dependency_results.get_results(name) if name.start_with?(batch_worker_prefix)
        end
        @worker_count = @batch_results.size
        @type = @batch_results.empty? ? :no_batches : :with_batches
      end

      def no_batches? = @type == :no_batches
      def with_batches? = @type == :with_batches
    end
  end

  module StepHandler
    module Mixins
      # Helpers for batch analyzers (cursor ranges, create/no batches),
      # batch workers (their cursor, checkpoint_yield) and aggregators.
      module Batchable
        def capabilities = super + %w[batchable batch_processing parallel_execution cursor_based deferred_convergence]
        def get_batch_context(context) = BatchProcessing::BatchWorkerContext.from_step_data(context.workflow_step)

        def detect_aggregation_scenario(dependency_results, analyzer_step_name, batch_worker_prefix)
          BatchProcessing::BatchAggregationScenario.detect(dependency_results, analyzer_step_name, batch_worker_prefix)
        end

        def get_dependency_result(dependency_results, step_name, *keys)
          result = dependency_results.get_results(step_name)
          keys.empty? ? result : result&.dig(*keys)
        end

        # A success for the no-op placeholder worker, else nil.
        def handle_no_op_worker(batch_context)
          return nil unless batch_context.no_op?

          success(result: { 'batch_id' => batch_context.batch_id, 'no_op' => true, 'processed_count' => 0 })
        end

        # worker_count ranges over 0...total_items, as even as a ceiling
        # split makes them; batch ids "001", "002", ...
        def create_cursor_configs(total_items, worker_count)
          raise ArgumentError, 'worker_count must be > 0' if worker_count <= 0

          per_worker = (total_items.to_f / worker_count).ceil
          (0...worker_count).map do |i|
            from = i * per_worker
            to = [from + per_worker, total_items].min
            config = { 'batch_id' => format('%03d', i + 1), 'start_cursor' => from, 'end_cursor' => to, 'batch_size' => to - from }
            yield(config, i) if block_given?
            config
          end
        end

        def no_batches_outcome(reason:, metadata: {})
          success(result: { 'batch_processing_outcome' => Types::BatchProcessingOutcome.no_batches, 'reason' => reason }.merge(metadata))
        end

        def create_batches_outcome(worker_template_name:, cursor_configs:, total_items:, metadata: {})
          outcome = Types::BatchProcessingOutcome.create_batches(worker_template_name: worker_template_name, worker_count: cursor_configs.size,
                                                                 cursor_configs: cursor_configs, total_items: total_items)
          success(result: { 'batch_processing_outcome' => outcome, 'worker_count' => cursor_configs.size,
                            'total_items' => total_items }.merge(metadata))
        end

        def batch_worker_success(items_processed:, items_succeeded:, items_failed: 0, items_skipped: 0, last_cursor: nil,
                                 results: nil, errors: nil, metadata: {})
          data = { 'items_processed' => items_processed, 'items_succeeded' => items_succeeded, 'items_failed' => items_failed,
                   'items_skipped' => items_skipped, 'last_cursor' => last_cursor, 'results' => results, 'errors' => errors }.compact
          success(result: data.merge(metadata), metadata: { batch_worker: true })
        end

        def batch_worker_failure(message, error_type: 'RetryableError', retryable: true, metadata: {})
          failure(message: message, error_type: error_type, retryable: retryable, metadata: metadata.merge(batch_worker: true))
        end

        def checkpoint_yield(cursor:, items_processed:, accumulated_results: nil)
          Types::StepHandlerCallResult.checkpoint_yield(cursor: cursor, items_processed: items_processed,
                                                        accumulated_results: accumulated_results)
        end

        # metadata: the fields to add (also accepted as plain hash arguments,
        # as tasker-core's own examples pass them).
        def no_batches_aggregation_result(metadata = {}, **kw)
          extra = kw.key?(:metadata) ? kw[:metadata] : metadata.merge(kw)
          success(result: { 'worker_count' => 0, 'scenario' => 'no_batches' }.merge(extra))
        end

        # Calls the block with {worker step name => its result} and adds
        # worker_count and scenario; with no workers, zero_metrics.
        def aggregate_batch_worker_results(scenario, zero_metrics: {})
          return no_batches_aggregation_result(metadata: zero_metrics) if scenario.no_batches?

          success(result: yield(scenario.batch_results).merge('worker_count' => scenario.worker_count, 'scenario' => 'with_batches'))
        end
      end
    end

    # A handler class for batch steps (legacy form of `include Mixins::Batchable`).
    class Batchable < Base
      include Mixins::Batchable
    end
  end
end
