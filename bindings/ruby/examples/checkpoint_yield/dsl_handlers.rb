# frozen_string_literal: true

# Checkpoint-yield test as DSL handlers (checkpoint_yield_test_dsl): one
# batch over total_items (default 100); the worker yields a checkpoint every
# items_per_checkpoint items (default 25), item i being worth i + 1, and can
# be told to fail once (fail_after_items, fail_on_attempt) or for good
# (permanent_failure); the aggregator sums the workers.
module CheckpointYieldDsl
  extend TaskerCore::StepHandler::Functional

  AnalyzeItems = batch_analyzer('checkpoint_yield_dsl.step_handlers.analyze_items', worker_template: 'checkpoint_yield_batch_dsl',
                                                                                   inputs: [:total_items]) do |total_items:, **|
    total = total_items || 100
    if total <= 0
      next TaskerCore::Types::StepHandlerCallResult.success(
        result: { 'batch_processing_outcome' => TaskerCore::Types::BatchProcessingOutcome.no_batches, 'reason' => 'no_items_to_process' }
      )
    end

    TaskerCore::StepHandler::Functional::BatchConfig.new(total_items: total, batch_size: total,
                                                         metadata: { 'test_type' => 'checkpoint_yield', 'items_per_batch' => total })
  end

  # The worker yields and resumes, so it is a Batchable class named for its callable.
  class CheckpointYieldBatch < TaskerCore::StepHandler::Batchable
    def handler_name = 'checkpoint_yield_dsl.step_handlers.checkpoint_yield_batch'

    def call(context)
      batch = get_batch_context(context)
      no_op = handle_no_op_worker(batch)
      return no_op if no_op

      per_checkpoint = context.get_input_or('items_per_checkpoint', context.get_config('items_per_checkpoint') || 25)
      cursor = batch.has_checkpoint? ? batch.checkpoint_cursor : batch.start_cursor
      done = batch.has_checkpoint? ? batch.checkpoint_items_processed : 0
      acc = batch.has_checkpoint? && batch.accumulated_results ? batch.accumulated_results : { 'running_total' => 0, 'item_ids' => [] }
      in_chunk = 0
      while cursor < batch.end_cursor
        failure = injected_failure(context, done, cursor)
        return failure if failure

        acc['running_total'] += cursor + 1
        acc['item_ids'] << "item_#{cursor.to_s.rjust(4, '0')}"
        cursor += 1
        done += 1
        in_chunk += 1
        if in_chunk >= per_checkpoint && cursor < batch.end_cursor
          return checkpoint_yield(cursor: cursor, items_processed: done, accumulated_results: acc)
        end
      end
      batch_worker_success(items_processed: done, items_succeeded: done,
                           results: acc.merge('final_cursor' => cursor, 'checkpoints_used' => done / per_checkpoint))
    end

    private

    def injected_failure(context, done, cursor)
      after = context.get_input('fail_after_items')
      return nil unless after && done >= after && context.retry_count + 1 == context.get_input_or('fail_on_attempt', 1)

      permanent = context.get_input_or('permanent_failure', false)
      failure(message: "Injected #{permanent ? 'permanent' : 'transient'} failure after #{done} items",
              error_type: permanent ? 'PermanentError' : 'RetryableError', retryable: !permanent,
              metadata: { items_processed: done, cursor_at_failure: cursor })
    end
  end

  class AggregateResults < TaskerCore::StepHandler::Batchable
    def handler_name = 'checkpoint_yield_dsl.step_handlers.aggregate_results'

    def call(context)
      scenario = detect_aggregation_scenario(context.dependency_results, 'analyze_items_dsl', 'checkpoint_yield_batch_dsl_')
      zero = { 'total_processed' => 0, 'running_total' => 0, 'test_passed' => true }
      aggregate_batch_worker_results(scenario, zero_metrics: zero) do |results|
        workers = results.values.compact
        data = workers.map { |r| r['results'] || {} }
        { 'total_processed' => workers.sum { |r| r['items_processed'] || 0 }, 'running_total' => data.sum { |d| d['running_total'] || 0 },
          'item_count' => data.sum { |d| (d['item_ids'] || []).size }, 'checkpoints_used' => data.sum { |d| d['checkpoints_used'] || 0 },
          'test_passed' => true }
      end
    end
  end
end
