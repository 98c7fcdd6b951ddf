# frozen_string_literal: true

require 'csv'

# CSV inventory analysis as DSL handlers (csv_processing_dsl): the analyzer
# counts the rows of csv_file_path and asks for workers of 200 rows; each
# worker sums price x stock, counts categories, finds the dearest product
# and averages ratings over its rows; the aggregator merges them.
module BatchProcessingDsl
  extend TaskerCore::StepHandler::Functional

  BATCH_SIZE = 200

  # The inventory metrics of rows [from, to) of a products CSV.
  def self.csv_metrics(path, from, to)
    raise ArgumentError, "CSV file not readable: #{path}" unless path && !path.include?('..') && File.readable?(path)

    m = { processed_count: 0, total_inventory_value: 0.0, category_counts: Hash.new(0), max_price: 0.0, max_price_product: nil }
    rating = 0.0
    CSV.foreach(path, headers: true).with_index do |row, index|
      next if index < from
      break if index >= to

      price = row['price'].to_f
      m[:total_inventory_value] += price * row['stock'].to_i
      m[:category_counts][row['category']] += 1
      m[:max_price], m[:max_price_product] = price, row['title'] if price > m[:max_price]
      rating += row['rating'].to_f
      m[:processed_count] += 1
    end
    m.merge(total_inventory_value: m[:total_inventory_value].round(2),
            average_rating: m[:processed_count].positive? ? (rating / m[:processed_count]).round(2) : 0.0)
  end

  # Merges worker results (worker step name => result).
  def self.merge_metrics(batch_results)
    results = batch_results.values.compact
    processed = results.sum { |r| r['processed_count'] || 0 }
    dearest = results.max_by { |r| r['max_price'] || 0.0 }
    counts = results.each_with_object(Hash.new(0)) { |r, h| (r['category_counts'] || {}).each { |c, n| h[c] += n } }
    weighted = results.sum { |r| (r['average_rating'] || 0.0) * (r['processed_count'] || 0) }
    { 'total_processed' => processed, 'total_inventory_value' => results.sum { |r| r['total_inventory_value'] || 0.0 }.round(2),
      'category_counts' => counts, 'max_price' => dearest ? dearest['max_price'] : 0.0,
      'max_price_product' => dearest && dearest['max_price_product'],
      'overall_average_rating' => processed.positive? ? (weighted / processed).round(2) : 0.0 }
  end

  AnalyzeCsv = batch_analyzer('csv_processing_dsl.step_handlers.analyze_csv', worker_template: 'process_csv_batch_dsl',
                                                                               inputs: [:csv_file_path]) do |csv_file_path:, **|
    raise TaskerCore::Errors::PermanentError, 'csv_file_path required in task context' if csv_file_path.nil?

    rows = CSV.read(csv_file_path, headers: true).length
    if rows.zero?
      next TaskerCore::Types::StepHandlerCallResult.success(
        result: { 'batch_processing_outcome' => TaskerCore::Types::BatchProcessingOutcome.no_batches, 'reason' => 'dataset_too_small' }
      )
    end

    TaskerCore::StepHandler::Functional::BatchConfig.new(total_items: rows, batch_size: BATCH_SIZE,
                                                         metadata: { 'csv_file_path' => csv_file_path, 'total_rows' => rows })
  end

  ProcessCsvBatch = batch_worker('csv_processing_dsl.step_handlers.process_csv_batch',
                                 depends_on: { analysis: 'analyze_csv_dsl' }) do |analysis:, batch_context:, **|
    next { 'batch_id' => batch_context.batch_id, 'no_op' => true, 'processed_count' => 0 } if batch_context.no_op?

    metrics = BatchProcessingDsl.csv_metrics(analysis && analysis['csv_file_path'], batch_context.start_cursor, batch_context.end_cursor)
    { 'batch_id' => batch_context.batch_id, 'start_row' => batch_context.start_cursor, 'end_row' => batch_context.end_cursor }
      .merge(metrics.transform_keys(&:to_s))
  end

  # The aggregator needs the Batchable helpers, so it is a class (as in
  # tasker-core's twin) named for its callable.
  class AggregateCsvResults < TaskerCore::StepHandler::Batchable
    def handler_name = 'csv_processing_dsl.step_handlers.aggregate_csv_results'

    def call(context)
      scenario = detect_aggregation_scenario(context.dependency_results, 'analyze_csv_dsl', 'process_csv_batch_dsl_')
      aggregate_batch_worker_results(scenario, zero_metrics: BatchProcessingDsl.merge_metrics({})) do |results|
        BatchProcessingDsl.merge_metrics(results)
      end
    end
  end
end
