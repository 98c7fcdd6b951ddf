# frozen_string_literal: true

# tasker-core's Ruby analytics pipeline (analytics_pipeline): three extracts
# of fixed sample data, a transform each, an aggregate of the three and
# insights from the aggregate. Totals: revenue 3199.73, 5 customers,
# inventory 575 units, health score 100 ("Excellent").
module DataPipeline
  SALES = [
    { order_id: 'ORD-001', date: '2025-11-01', product_id: 'PROD-A', quantity: 5, amount: 499.95 },
    { order_id: 'ORD-002', date: '2025-11-05', product_id: 'PROD-B', quantity: 3, amount: 299.97 },
    { order_id: 'ORD-003', date: '2025-11-10', product_id: 'PROD-A', quantity: 2, amount: 199.98 },
    { order_id: 'ORD-004', date: '2025-11-15', product_id: 'PROD-C', quantity: 10, amount: 1499.90 },
    { order_id: 'ORD-005', date: '2025-11-18', product_id: 'PROD-B', quantity: 7, amount: 699.93 }
  ].freeze
  INVENTORY = [
    { product_id: 'PROD-A', sku: 'SKU-A-001', warehouse: 'WH-01', quantity_on_hand: 150, reorder_point: 50 },
    { product_id: 'PROD-B', sku: 'SKU-B-002', warehouse: 'WH-01', quantity_on_hand: 75, reorder_point: 25 },
    { product_id: 'PROD-C', sku: 'SKU-C-003', warehouse: 'WH-02', quantity_on_hand: 200, reorder_point: 100 },
    { product_id: 'PROD-A', sku: 'SKU-A-001', warehouse: 'WH-02', quantity_on_hand: 100, reorder_point: 50 },
    { product_id: 'PROD-B', sku: 'SKU-B-002', warehouse: 'WH-03', quantity_on_hand: 50, reorder_point: 25 }
  ].freeze
  CUSTOMERS = [
    { customer_id: 'CUST-001', name: 'Alice Johnson', tier: 'gold', lifetime_value: 5000.00, join_date: '2024-01-15' },
    { customer_id: 'CUST-002', name: 'Bob Smith', tier: 'silver', lifetime_value: 2500.00, join_date: '2024-03-20' },
    { customer_id: 'CUST-003', name: 'Carol White', tier: 'premium', lifetime_value: 15_000.00, join_date: '2023-11-10' },
    { customer_id: 'CUST-004', name: 'David Brown', tier: 'standard', lifetime_value: 500.00, join_date: '2025-01-05' },
    { customer_id: 'CUST-005', name: 'Eve Davis', tier: 'gold', lifetime_value: 7500.00, join_date: '2024-06-12' }
  ].freeze

  def self.extract_sales
    dates = SALES.map { |r| r[:date] }
    { records: SALES, extracted_at: Time.now.utc.iso8601, source: 'SalesDatabase', total_amount: SALES.sum { |r| r[:amount] },
      date_range: { start_date: dates.min, end_date: dates.max } }
  end

  def self.extract_inventory
    { records: INVENTORY, extracted_at: Time.now.utc.iso8601, source: 'InventorySystem',
      total_quantity: INVENTORY.sum { |r| r[:quantity_on_hand] }, warehouses: INVENTORY.map { |r| r[:warehouse] }.uniq,
      products_tracked: INVENTORY.map { |r| r[:product_id] }.uniq.size }
  end

  def self.extract_customers
    ltv = CUSTOMERS.sum { |r| r[:lifetime_value] }
    { records: CUSTOMERS, extracted_at: Time.now.utc.iso8601, source: 'CRMSystem', total_customers: CUSTOMERS.size,
      total_lifetime_value: ltv, tier_breakdown: CUSTOMERS.group_by { |c| c[:tier] }.transform_values(&:size),
      avg_lifetime_value: ltv / CUSTOMERS.size.to_f }
  end

  def self.records!(extract, step)
    records = extract && extract['records']
    raise TaskerCore::Errors::PermanentError.new("#{step} results not found", error_code: 'MISSING_EXTRACT_RESULTS') unless records

    records
  end

  def self.transform_sales(extract)
    records = records!(extract, 'extract_sales_data')
    amount = ->(rs) { rs.sum { |r| r['amount'] || 0 } }
    { record_count: records.size,
      daily_sales: records.group_by { |r| r['date'] }.transform_values do |rs|
        { total_amount: amount[rs], order_count: rs.size, avg_order_value: amount[rs] / rs.size.to_f }
      end,
      product_sales: records.group_by { |r| r['product_id'] }.transform_values do |rs|
        { total_quantity: rs.sum { |r| r['quantity'] || 0 }, total_revenue: amount[rs], order_count: rs.size }
      end,
      total_revenue: amount[records], transformation_type: 'sales_analytics', source: 'extract_sales_data' }
  end

  def self.transform_inventory(extract)
    records = records!(extract, 'extract_inventory_data')
    products = records.group_by { |r| r['product_id'] }.transform_values do |rs|
      quantity = rs.sum { |r| r['quantity_on_hand'] }
      { total_quantity: quantity, warehouse_count: rs.map { |r| r['warehouse'] }.uniq.size,
        needs_reorder: quantity < rs.sum { |r| r['reorder_point'] } }
    end
    { record_count: records.size,
      warehouse_summary: records.group_by { |r| r['warehouse'] }.transform_values do |rs|
        { total_quantity: rs.sum { |r| r['quantity_on_hand'] }, product_count: rs.map { |r| r['product_id'] }.uniq.size,
          reorder_alerts: rs.count { |r| r['quantity_on_hand'] <= r['reorder_point'] } }
      end,
      product_inventory: products, total_quantity_on_hand: records.sum { |r| r['quantity_on_hand'] },
      reorder_alerts: products.count { |_, p| p[:needs_reorder] }, transformation_type: 'inventory_analytics',
      source: 'extract_inventory_data' }
  end

  def self.transform_customers(extract)
    records = records!(extract, 'extract_customer_data')
    ltv = ->(rs) { rs.sum { |r| r['lifetime_value'] || 0 } }
    { record_count: records.size,
      tier_analysis: records.group_by { |r| r['tier'] }.transform_values do |rs|
        { customer_count: rs.size, total_lifetime_value: ltv[rs], avg_lifetime_value: ltv[rs] / rs.size.to_f }
      end,
      value_segments: { high_value: records.count { |r| r['lifetime_value'] >= 10_000 },
                        medium_value: records.count { |r| r['lifetime_value'].between?(1000, 9999) },
                        low_value: records.count { |r| r['lifetime_value'] < 1000 } },
      total_lifetime_value: ltv[records], avg_customer_value: ltv[records] / records.size.to_f,
      transformation_type: 'customer_analytics', source: 'extract_customer_data' }
  end

  def self.aggregate(sales, inventory, customers)
    missing = { 'transform_sales' => sales, 'transform_inventory' => inventory, 'transform_customers' => customers }.select { |_, v| v.nil? }
    unless missing.empty?
      raise TaskerCore::Errors::PermanentError.new("Missing transform results: #{missing.keys.join(', ')}",
                                                   error_code: 'MISSING_TRANSFORM_RESULTS')
    end

    revenue = sales['total_revenue'] || 0
    stock = inventory['total_quantity_on_hand'] || 0
    count = customers['record_count'] || 0
    { total_revenue: revenue, total_inventory_quantity: stock, total_customers: count,
      total_customer_lifetime_value: customers['total_lifetime_value'] || 0, sales_transactions: sales['record_count'] || 0,
      inventory_reorder_alerts: inventory['reorder_alerts'] || 0,
      revenue_per_customer: (count.positive? ? revenue / count.to_f : 0).round(2),
      inventory_turnover_indicator: (stock.positive? ? revenue / stock.to_f : 0).round(4), aggregation_complete: true, sources_included: 3 }
  end

  def self.insights(metrics)
    raise TaskerCore::Errors::PermanentError.new('Aggregated metrics not found', error_code: 'MISSING_AGGREGATE_RESULTS') unless metrics

    revenue, customers, per_customer, alerts, ltv = metrics.values_at('total_revenue', 'total_customers', 'revenue_per_customer',
                                                                      'inventory_reorder_alerts', 'total_customer_lifetime_value')
    found = []
    if revenue.positive?
      found << { category: 'Revenue', finding: "Total revenue of $#{revenue} with #{customers} customers", metric: per_customer,
                 recommendation: per_customer < 500 ? 'Consider upselling strategies' : 'Customer spend is healthy' }
    end
    found << if alerts.positive?
               { category: 'Inventory', finding: "#{alerts} products need reordering", metric: alerts,
                 recommendation: 'Review reorder points and place purchase orders' }
             else
               { category: 'Inventory', finding: 'All products above reorder points', metric: 0,
                 recommendation: 'Inventory levels are healthy' }
             end
    avg_ltv = customers.positive? ? ltv / customers.to_f : 0
    found << { category: 'Customer Value', finding: "Average customer lifetime value: $#{avg_ltv.round(2)}", metric: avg_ltv,
               recommendation: avg_ltv > 3000 ? 'Focus on retention programs' : 'Increase customer engagement' }
    score = (per_customer > 500 ? 40 : 0) + (alerts.zero? ? 30 : 0) + (avg_ltv > 3000 ? 30 : 0)
    rating = if score >= 80 then 'Excellent'
             elsif score >= 60 then 'Good'
             elsif score >= 40 then 'Fair'
             else 'Needs Improvement'
             end
    { insights: found, health_score: { score: score, max_score: 100, rating: rating }, total_metrics_analyzed: metrics.size,
      pipeline_complete: true, generated_at: Time.now.utc.iso8601 }
  end

  module StepHandlers
    # Each handler: its step's function over its parents' results.
    class PipelineHandler < TaskerCore::StepHandler::Base
      def self.step(function, *parents)
        define_method(:call) do |context|
          result = DataPipeline.public_send(function, *parents.map { |p| context.get_dependency_result(p) })
          success(result: result, metadata: { operation: function.to_s, handler_class: self.class.name })
        end
      end
    end

    class ExtractSalesDataHandler < PipelineHandler
      step :extract_sales
    end

    class ExtractInventoryDataHandler < PipelineHandler
      step :extract_inventory
    end

    class ExtractCustomerDataHandler < PipelineHandler
      step :extract_customers
    end

    class TransformSalesHandler < PipelineHandler
      step :transform_sales, 'extract_sales_data'
    end

    class TransformInventoryHandler < PipelineHandler
      step :transform_inventory, 'extract_inventory_data'
    end

    class TransformCustomersHandler < PipelineHandler
      step :transform_customers, 'extract_customer_data'
    end

    class AggregateMetricsHandler < PipelineHandler
      step :aggregate, 'transform_sales', 'transform_inventory', 'transform_customers'
    end

    class GenerateInsightsHandler < PipelineHandler
      step :insights, 'aggregate_metrics'
    end
  end
end
