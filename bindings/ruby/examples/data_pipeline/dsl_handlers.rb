# frozen_string_literal: true

require_relative 'step_handlers'

# The analytics pipeline as functional-DSL handlers (data_pipeline_dsl_rb).
# tasker-core's DSL twin keeps the extracts and the sales transform, and
# reduces the other transforms, the aggregate and the insights to summaries.
module DataPipelineDsl
  extend TaskerCore::StepHandler::Functional

  ExtractSales = step_handler('data_pipeline_dsl_rb.step_handlers.extract_sales_data') { |**| DataPipeline.extract_sales }
  ExtractInventory = step_handler('data_pipeline_dsl_rb.step_handlers.extract_inventory_data') { |**| DataPipeline.extract_inventory }
  ExtractCustomers = step_handler('data_pipeline_dsl_rb.step_handlers.extract_customer_data') { |**| DataPipeline.extract_customers }

  TransformSales = step_handler('data_pipeline_dsl_rb.step_handlers.transform_sales',
                                depends_on: { extract: 'extract_sales_data_dsl' }) do |extract:, **|
    DataPipeline.transform_sales(extract)
  end

  TransformCustomers = step_handler('data_pipeline_dsl_rb.step_handlers.transform_customers',
                                    depends_on: { extract: 'extract_customer_data_dsl' }) do |extract:, **|
    records = DataPipeline.records!(extract, 'extract_customer_data')
    tiers = records.group_by { |r| r['tier'] }.transform_values do |rs|
      total = rs.sum { |r| r['lifetime_value'] || 0 }
      { count: rs.size, total_value: total, avg_value: total / rs.size.to_f }
    end
    { record_count: records.size, tier_analysis: tiers, transformation_type: 'customer_analytics', source: 'extract_customer_data' }
  end

  TransformInventory = step_handler('data_pipeline_dsl_rb.step_handlers.transform_inventory',
                                    depends_on: { extract: 'extract_inventory_data_dsl' }) do |extract:, **|
    records = DataPipeline.records!(extract, 'extract_inventory_data')
    warehouses = records.group_by { |r| r['warehouse'] }.transform_values do |rs|
      { total_quantity: rs.sum { |r| r['quantity_on_hand'] }, product_count: rs.size,
        below_reorder: rs.count { |r| r['quantity_on_hand'] < r['reorder_point'] } }
    end
    { record_count: records.size, warehouse_analysis: warehouses, transformation_type: 'inventory_analytics',
      source: 'extract_inventory_data' }
  end

  AggregateMetrics = step_handler('data_pipeline_dsl_rb.step_handlers.aggregate_metrics',
                                  depends_on: { sales: 'transform_sales_dsl', customers: 'transform_customers_dsl',
                                                inventory: 'transform_inventory_dsl' }) do |sales:, customers:, inventory:, **|
    { sales_summary: { total_revenue: sales['total_revenue'], record_count: sales['record_count'] },
      customer_summary: { record_count: customers['record_count'] }, inventory_summary: { record_count: inventory['record_count'] },
      aggregated_at: Time.now.utc.iso8601 }
  end

  GenerateInsights = step_handler('data_pipeline_dsl_rb.step_handlers.generate_insights',
                                  depends_on: { metrics: 'aggregate_metrics_dsl' }) do |metrics:, **|
    { insights_generated: true, report_type: 'automated', generated_at: Time.now.utc.iso8601, metrics_snapshot: metrics }
  end
end
