# frozen_string_literal: true

require 'test_helper'
require 'workflow_sim'

# Every Ruby fixture template of tasker-core, run with WorkflowSim over the
# handlers a worker would load: tasker-core's own handler files (verbatim,
# from ../shared) and this gem's examples. Expected values are what
# tasker-core's Ruby handlers compute.
class TestFixtureWorkflows < Minitest::Test
  include TestPaths

  def self.load_handlers!
    return if @loaded

    Dir[File.join(REFERENCE_RUBY, '*.rb')].sort.each { |f| require f }
    Dir[File.join(EXAMPLES, '**', '*.rb')].sort.each { |f| require f }
    TaskerCore::Registry::HandlerRegistry.instance.register_named_handlers
    @loaded = true
  end

  def setup
    require_shared!(RUBY_TEMPLATES)
    require_shared!(REFERENCE_RUBY)
    self.class.load_handlers!
  end

  def run_fixture(file, context)
    WorkflowSim.new(File.join(RUBY_TEMPLATES, file)).run(context)
  end

  def assert_complete(run, steps)
    failed = run.outcomes.reject { |_, o| o.success? }.transform_values { |o| "#{o.error_type}: #{o.message}" }
    assert_equal 'complete', run.status, -> { "failed steps: #{failed}" }
    assert_equal steps, run.outcomes.size
  end

  def each_twin(file)
    [file, file.sub('.yaml', '_dsl.yaml')].each { |f| yield f, f.include?('_dsl') ? '_dsl' : '' }
  end

  def test_linear_diamond_mixed_dag_tree
    { 'linear_workflow_handler.yaml' => ['linear_step_4', 4, 16], 'diamond_workflow_handler.yaml' => ['diamond_end', 4, 16],
      'mixed_dag_workflow_handler.yaml' => ['dag_finalize', 7, 64], 'tree_workflow_handler.yaml' => ['tree_final_convergence', 8, 64] }
      .each do |file, (last, steps, power)|
      each_twin(file) do |f, sfx|
        [2, 6].each do |n|
          run = run_fixture(f, { 'even_number' => n })
          assert_complete(run, steps)
          assert_equal n**power, run.results["#{last}#{sfx}"], "#{f} with #{n}"
        end
      end
    end
    assert_equal 2_821_109_907_456, run_fixture('linear_workflow_handler.yaml', { 'even_number' => 6 }).results['linear_step_4']
    refute run_fixture('linear_workflow_handler.yaml', { 'even_number' => 3 }).outcomes['linear_step_1'].success?
  end

  def test_error_scenarios
    each_twin('success_only.yaml') do |f, _|
      run = run_fixture(f, {})
      assert_complete(run, 1)
      assert_equal 'Step completed successfully', run.results.values.first['message']
    end
    each_twin('permanent_error_only.yaml') do |f, _|
      run = run_fixture(f, {})
      assert_equal 'error', run.status
      out = run.outcomes.values.first
      assert_equal ['PermanentError', false, 'Invalid payment method: test_invalid_card', 1],
                   [out.error_type, out.retryable, out.message, run.attempts.values.first]
    end
    each_twin('retryable_error_only.yaml') do |f, _|
      run = run_fixture(f, {})
      assert_equal 'error', run.status
      out = run.outcomes.values.first
      assert_equal ['RetryableError', true, 5, 2], [out.error_type, out.retryable, out.retry_after, run.attempts.values.first]
      assert_match(/Payment service timeout after 30s/, out.message)
    end
    each_twin('error_testing_handler.yaml') { |f, _| assert_equal 'error', run_fixture(f, {}).status }
  end

  def test_method_dispatch
    data = { 'data' => { 'amount' => 100.0, 'reason' => 'test_refund' } }
    run = run_fixture('method_dispatch.yaml', data)
    assert_complete(run, 4)
    r = run.results
    assert_equal %w[validate process refund call], %w[validate_step process_step refund_step default_call_step].map { |s| r[s]['invoked_method'] }
    assert_equal true, r['validate_step']['validated']
    assert_equal [100.0, 110.00000000000001, 10.000000000000014],
                 r['process_step'].values_at('original_amount', 'processed_amount', 'processing_fee')
    assert_equal [100.0, 'test_refund'], r['refund_step'].values_at('refund_amount', 'refund_reason')
    dsl = run_fixture('method_dispatch_dsl.yaml', data)
    assert_complete(dsl, 4)
    assert_equal 110.00000000000001, dsl.results['process_step_dsl']['processed_amount']
    # Without an amount, validate fails without a retry (tasker-core called a
    # method that does not exist and retried the NoMethodError).
    bad = run_fixture('method_dispatch.yaml', { 'data' => {} })
    assert_equal ['error', 'validation_error', false], [bad.status, bad.outcomes['validate_step'].error_type, bad.outcomes['validate_step'].retryable]
  end

  ORDER = { 'customer_info' => { 'id' => 42, 'email' => 'grace@example.com' },
            'order_items' => [{ 'product_id' => 101, 'quantity' => 2, 'price' => 29.99 }, { 'product_id' => 103, 'quantity' => 1, 'price' => 49.99 }],
            'payment_info' => { 'method' => 'credit_card', 'token' => 'tok_test' },
            'shipping_info' => { 'address' => '1 Navy Way', 'method' => 'express' } }.freeze

  def test_order_fulfillment
    run = run_fixture('order_fulfillment_handler.yaml', ORDER)
    assert_complete(run, 4)
    assert_in_delta 109.97, run.results['validate_order']['order_total'], 1e-9
    assert_equal %w[Premium\ Widget\ A Standard\ Gadget\ C], run.results['validate_order']['validated_items'].map { |i| i['product_name'] }
    assert_equal [2, 'confirmed'], run.results['reserve_inventory'].values_at('items_reserved', 'reservation_status')
    assert_equal 'completed', run.results['process_payment']['payment_status']
    assert_equal ['FedEx', 'FedEx Express', 16.25], run.results['ship_order'].values_at('carrier', 'service_type', 'shipping_cost')
    dsl = run_fixture('order_fulfillment_handler_dsl.yaml', ORDER)
    assert_complete(dsl, 4)
    assert_equal ['UPS', 8.99], dsl.results['ship_order_dsl'].values_at('carrier', 'shipping_cost')
    bad = run_fixture('order_fulfillment_handler.yaml', ORDER.merge('order_items' => [{ 'product_id' => 999, 'quantity' => 1, 'price' => 1 }]))
    assert_equal ['error', 'PermanentError'], [bad.status, bad.outcomes['validate_order'].error_type]
  end

  CART = { 'cart_items' => [{ 'product_id' => 1, 'quantity' => 2 }, { 'product_id' => 2, 'quantity' => 1 }],
           'customer_info' => { 'email' => 'customer@example.com', 'name' => 'John Doe', 'phone' => '+1-555-0123' },
           'payment_info' => { 'method' => 'credit_card', 'token' => 'tok_test_valid', 'amount' => 124.76 } }.freeze

  def test_ecommerce
    each_twin('ecommerce_order_processing.yaml') do |f, sfx|
      run = run_fixture(f, CART)
      assert_complete(run, 5)
      cart = run.results["validate_cart#{sfx}"]
      assert_equal [109.97, 8.8, 5.99, 2], cart.values_at('subtotal', 'tax', 'shipping', 'item_count')
      assert_in_delta 124.76, cart['total'], 1e-9
      assert_in_delta 124.76, run.results["create_order#{sfx}"]['total_amount'], 1e-9
      assert_equal [3, 'confirmed'], [run.results["update_inventory#{sfx}"]['total_items_reserved'], run.results["create_order#{sfx}"]['status']]
      assert_equal [true, 'customer@example.com'], run.results["send_confirmation#{sfx}"].values_at('email_sent', 'recipient')
    end
    declined = run_fixture('ecommerce_order_processing.yaml', CART.merge('payment_info' => CART['payment_info'].merge('token' => 'tok_test_declined')))
    assert_equal [false, 'PAYMENT_DECLINED'], [declined.outcomes['process_payment'].retryable, declined.outcomes['process_payment'].error_code]
    stock = run_fixture('ecommerce_order_processing.yaml', CART.merge('cart_items' => [{ 'product_id' => 4, 'quantity' => 1 }]))
    assert_equal [true, 30], [stock.outcomes['validate_cart'].retryable, stock.outcomes['validate_cart'].retry_after]
  end

  def test_data_pipeline
    run = run_fixture('data_pipeline_analytics_pipeline.yaml', {})
    assert_complete(run, 8)
    agg = run.results['aggregate_metrics']
    assert_equal [3199.73, 575, 5, 30_500.0, 639.95, 0], agg.values_at('total_revenue', 'total_inventory_quantity', 'total_customers',
                                                                       'total_customer_lifetime_value', 'revenue_per_customer',
                                                                       'inventory_reorder_alerts')
    insights = run.results['generate_insights']
    assert_equal({ 'score' => 100, 'max_score' => 100, 'rating' => 'Excellent' }, insights['health_score'])
    assert_equal ['Revenue', 'Inventory', 'Customer Value'], insights['insights'].map { |i| i['category'] }
    dsl = run_fixture('data_pipeline_analytics_pipeline_dsl.yaml', {})
    assert_complete(dsl, 8)
    assert_equal 3199.73, dsl.results['aggregate_metrics_dsl']['sales_summary']['total_revenue']
    assert_equal true, dsl.results['generate_insights_dsl']['insights_generated']
  end

  def test_microservices
    each_twin('microservices_user_registration.yaml') do |f, sfx|
      run = run_fixture(f, { 'user_info' => { 'email' => 'ada@example.com', 'name' => 'Ada', 'plan' => 'pro', 'source' => 'web' } })
      assert_complete(run, 5)
      assert_equal ['created', 'pro'], run.results["create_user_account#{sfx}"].values_at('status', 'plan')
      assert_equal [29.99, 'active'], run.results["setup_billing_profile#{sfx}"].values_at('price', 'status')
      assert_equal [8, 'dark'], [run.results["initialize_preferences#{sfx}"]['defaults_applied'],
                                 run.results["initialize_preferences#{sfx}"]['preferences']['theme']]
      assert_equal %w[email in_app], run.results["send_welcome_sequence#{sfx}"]['channels_used']
      assert_equal 'active', run.results["update_user_status#{sfx}"]['status']
    end
    existing = run_fixture('microservices_user_registration.yaml',
                           { 'user_info' => { 'email' => 'existing@example.com', 'name' => 'Existing User', 'plan' => 'free' } })
    assert_complete(existing, 5)
    assert_equal 'already_exists', existing.results['create_user_account']['status']
    assert_equal 'skipped_free_plan', existing.results['setup_billing_profile']['status']
    assert_equal 7, existing.results['update_user_status']['registration_summary']['preferences_count']
  end

  def test_payments_and_customer_success
    each_twin('payments_process_refund.yaml') do |f, sfx|
      run = run_fixture(f, { 'payment_id' => 'pay_abc123', 'refund_amount' => 2999, 'refund_reason' => 'customer_request',
                             'customer_email' => 'customer@example.com', 'partial_refund' => false })
      assert_complete(run, 4)
      assert_equal [3999, 2999], run.results["validate_payment_eligibility#{sfx}"].values_at('original_amount', 'refund_amount')
      assert_equal ['refunded', 2], run.results["update_payment_records#{sfx}"].values_at('payment_status', 'history_entries_created')
      assert_equal ['delivered', 2999], run.results["notify_customer#{sfx}"].values_at('delivery_status', 'refund_amount')
    end
    ineligible = run_fixture('payments_process_refund.yaml', { 'payment_id' => 'pay_test_ineligible', 'refund_amount' => 10,
                                                               'customer_email' => 'a@b.c' })
    assert_equal ['error', 'PAYMENT_INELIGIBLE'], [ineligible.status, ineligible.outcomes['validate_payment_eligibility'].error_code]

    each_twin('customer_success_process_refund.yaml') do |f, sfx|
      run = run_fixture(f, { 'ticket_id' => 'TICKET-9001', 'customer_id' => 'CUST-123', 'refund_amount' => 2999,
                             'refund_reason' => 'Product defective', 'customer_email' => 'c@example.com' })
      assert_complete(run, 5)
      assert_equal ['standard', true, 30], run.results["check_refund_policy#{sfx}"].values_at('customer_tier', 'requires_approval',
                                                                                               'days_since_purchase')
      assert_equal [true, false], run.results["get_manager_approval#{sfx}"].values_at('approval_required', 'auto_approved')
      assert_equal 'payments', run.results["execute_refund_workflow#{sfx}"]['target_namespace']
      assert_equal 'resolved', run.results["update_ticket_status#{sfx}"]['new_status']
      assert_match(/\ARefund of \$29\.99 processed successfully/, run.results["update_ticket_status#{sfx}"]['resolution_note'])
    end
    gold = run_fixture('customer_success_process_refund.yaml', { 'ticket_id' => 'T-1', 'customer_id' => 'gold_7', 'refund_amount' => 100 })
    assert_equal true, gold.results['get_manager_approval']['auto_approved']
  end

  # Needs decision points in the engine.
  def test_conditional_approval
    each_twin('conditional_approval_handler.yaml') do |f, sfx|
      { 500 => ['auto', 4], 1000 => ['manager_only', 4], 2500 => ['manager_only', 4], 5000 => ['dual_approval', 5],
        7500 => ['dual_approval', 5], 10_000 => ['dual_approval', 5] }.each do |amount, (path, steps)|
        run = run_fixture(f, { 'amount' => amount, 'requester' => 'grace', 'purpose' => 'new laptops' })
        assert_complete(run, steps)
        assert_equal path, run.results["finalize_approval#{sfx}"]['approval_path'], "#{f} #{amount}"
      end
      over = run_fixture(f, { 'amount' => 15_000, 'requester' => 'grace', 'purpose' => 'servers' })
      assert_equal ['error', 'AMOUNT_EXCEEDS_MANAGER_LIMIT'], [over.status, over.outcomes["manager_approval#{sfx}"].error_code]
    end
  end

  # Needs batch processing in the engine.
  def test_csv_batch_processing
    csv = File.join(FIXTURES, 'products.csv')
    require_shared!(csv)
    each_twin('batch_processing_products_csv.yaml') do |f, sfx|
      run = run_fixture(f, { 'csv_file_path' => csv })
      assert_complete(run, 7)
      agg = run.results["aggregate_csv_results#{sfx}"]
      assert_equal [1000, 35_588_047.0, 13_999.99, 'Rolex Submariner Watch', 3.85, 5, 11],
                   agg.values_at('total_processed', 'total_inventory_value', 'max_price', 'max_price_product',
                                 'overall_average_rating', 'worker_count') + [agg['category_counts'].size]
    end
    empty = run_fixture('batch_processing_products_csv.yaml', { 'csv_file_path' => File.join(FIXTURES, 'products_empty.csv') })
    assert_equal({ 'type' => 'no_batches' }, empty.results['analyze_csv']['batch_processing_outcome'])
  end

  # Needs batch processing and checkpoints in the engine.
  def test_checkpoint_yield
    each_twin('checkpoint_yield_test.yaml') do |f, sfx|
      run = run_fixture(f, { 'total_items' => 100, 'items_per_checkpoint' => 25 })
      assert_complete(run, 3)
      assert_equal [100, 5050, 100, 4, 1], run.results["aggregate_results#{sfx}"].values_at('total_processed', 'running_total', 'item_count',
                                                                                           'checkpoints_used', 'worker_count')
      assert_equal 3, run.yields["checkpoint_yield_batch#{sfx}_001"]

      flaky = run_fixture(f, { 'total_items' => 100, 'items_per_checkpoint' => 20, 'fail_after_items' => 50, 'fail_on_attempt' => 1 })
      assert_complete(flaky, 3)
      assert_equal [2, 5050], [flaky.attempts["checkpoint_yield_batch#{sfx}_001"], flaky.results["aggregate_results#{sfx}"]['running_total']]

      broken = run_fixture(f, { 'total_items' => 100, 'items_per_checkpoint' => 25, 'fail_after_items' => 30, 'permanent_failure' => true })
      assert_equal ['error', false], [broken.status, broken.outcomes["checkpoint_yield_batch#{sfx}_001"].retryable]
    end
  end

  # tasker-core's checkpoint aggregator passes its zero metrics as a plain
  # hash, which tasker-core's own gem rejected with ArgumentError.
  def test_checkpoint_aggregator_without_batches
    analyzer = { 'batch_processing_outcome' => { 'type' => 'no_batches' }, 'reason' => 'no_items_to_process' }
    out = TaskerCore::Testing.run('TaskerCore::Examples::CheckpointYield::AggregatorHandler',
                                  dependency_results: { 'analyze_items' => analyzer })
    assert out.success?, -> { out.to_h.inspect }
    assert_equal({ 'worker_count' => 0, 'scenario' => 'no_batches', 'total_processed' => 0, 'running_total' => 0, 'test_passed' => true },
                 out.result)
  end

  # Needs domain-event publishing in the engine; the handlers themselves run.
  def test_domain_event_handlers
    ctx = { 'order_id' => 'ORD-1', 'customer_id' => 'CUST-1', 'amount' => 99.5 }
    each_twin('domain_event_publishing.yaml') do |f, sfx|
      run = run_fixture(f, ctx)
      assert_complete(run, 4)
      assert_equal %w[order_id_present customer_id_present amount_positive],
                   run.results["domain_events_validate_order#{sfx}"]['validation_checks']
      assert_equal [99.5, 'success'], run.results["domain_events_process_payment#{sfx}"].values_at('amount', 'status')
      failed = run_fixture(f, ctx.merge('simulate_failure' => true))
      assert_equal ['PaymentError', true], [failed.outcomes["domain_events_process_payment#{sfx}"].error_type,
                                             failed.outcomes["domain_events_process_payment#{sfx}"].retryable]
    end
  end
end
