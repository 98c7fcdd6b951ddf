# frozen_string_literal: true

require 'test_helper'
require 'socket'

module DslSamples
  extend TaskerCore::StepHandler::Functional
  Point = Struct.new(:x, :y, keyword_init: true)

  Add = step_handler('dsl_samples.add', depends_on: { left: 'a', point: ['b', Point] }, inputs: [:n]) do |left:, point:, n:, context:|
    { sum: left + point.x + point.y + n, step: context.step_name }
  end
  Nil = step_handler('dsl_samples.nil') { |**| nil }
  Boom = step_handler('dsl_samples.boom') { |**| raise TaskerCore::Errors::PermanentError.new('nope', error_code: 'NO') }
  Later = step_handler('dsl_samples.later') { |**| raise TaskerCore::Errors::RetryableError.new('later', retry_after: 3) }
  Route = decision_handler('dsl_samples.route', inputs: [:amount]) do |amount:, **|
    amount > 10 ? Decision.route(%w[big], tier: 'gold') : Decision.skip('small')
  end
  Analyze = batch_analyzer('dsl_samples.analyze', worker_template: 'work') do |**|
    BatchConfig.new(total_items: 250, batch_size: 100, metadata: { 'source' => 'test' })
  end
  Work = batch_worker('dsl_samples.work') do |batch_context:, **|
    { range: [batch_context.start_cursor, batch_context.end_cursor], id: batch_context.batch_id }
  end
end

class TestFunctionalDsl < Minitest::Test
  include EventFactory

  def setup
    TaskerCore::Registry::HandlerRegistry.instance.register_named_handlers
  end

  def test_step_handler_injects_dependencies_inputs_and_models
    event = build_event(callable: 'dsl_samples.add', task_context: { 'n' => 100 }, step_name: 'add',
                        dependency_results: { 'a' => dependency(1), 'b' => dependency({ 'x' => 10, 'y' => 20, 'z' => 0 }) })
    assert_equal({ 'sum' => 131, 'step' => 'add' }, run_ok(event))
    assert_equal 'dsl_samples.add', DslSamples::Add.new.handler_name
    assert_equal({}, run_ok(build_event(callable: 'dsl_samples.nil')))
  end

  def test_exceptions_become_classified_failures
    boom = run_event(build_event(callable: 'dsl_samples.boom'))
    assert_equal ['PermanentError', false, 'NO'], [boom.error_type, boom.retryable, boom.error_code]
    later = run_event(build_event(callable: 'dsl_samples.later'))
    assert_equal ['RetryableError', true, 3], [later.error_type, later.retryable, later.retry_after]
  end

  def test_decision_handler
    routed = run_ok(build_event(callable: 'dsl_samples.route', task_context: { 'amount' => 50 }))
    assert_equal({ 'type' => 'create_steps', 'step_names' => ['big'] }, routed['decision_point_outcome'])
    assert_equal({ 'tier' => 'gold' }, routed['routing_context'])
    skipped = run_ok(build_event(callable: 'dsl_samples.route', task_context: { 'amount' => 5 }))
    assert_equal({ 'type' => 'no_branches' }, skipped['decision_point_outcome'])
    assert_equal 'small', skipped['reason']
  end

  def test_batch_analyzer_and_worker
    out = run_ok(build_event(callable: 'dsl_samples.analyze'))
    outcome = out['batch_processing_outcome']
    assert_equal ['create_batches', 'work', 3, 250], outcome.values_at('type', 'worker_template_name', 'worker_count', 'total_items')
    # As in tasker-core: ceil(250 / 100) = 3 workers, ranges split evenly by ceil(250 / 3).
    assert_equal [[0, 84], [84, 168], [168, 250]], outcome['cursor_configs'].map { |c| [c['start_cursor'], c['end_cursor']] }
    assert_equal %w[001 002 003], outcome['cursor_configs'].map { |c| c['batch_id'] }
    assert_equal 'test', out['source']
    work = run_ok(build_event(callable: 'dsl_samples.work', inputs: { 'cursor' => outcome['cursor_configs'][2], 'is_no_op' => false }))
    assert_equal({ "range" => [168, 250], "id" => "003" }, work)
  end
end

class TestMixins < Minitest::Test
  include EventFactory

  class Decider < TaskerCore::StepHandler::Decision
    def call(context)
      case context.get_input('mode')
      when 'none' then decision_no_branches(result_data: { why: 'none' })
      when 'custom' then decision_with_custom_outcome(outcome: { type: 'create_steps', step_names: ['x'] })
      when 'empty' then decision_success(steps: [])
      else decision_success(steps: %w[a b], result_data: { route: 'both' }, metadata: { m: 1 })
      end
    end
  end

  class Batcher < TaskerCore::StepHandler::Batchable
    def call(context)
      return no_batches_outcome(reason: 'empty', metadata: { 'rows' => 0 }) if context.get_input('rows').zero?

      create_batches_outcome(worker_template_name: 'w', cursor_configs: create_cursor_configs(context.get_input('rows'), 2),
                             total_items: context.get_input('rows'))
    end
  end

  class Aggregator < TaskerCore::StepHandler::Batchable
    def call(context)
      scenario = detect_aggregation_scenario(context.dependency_results, 'analyze', 'w_')
      aggregate_batch_worker_results(scenario, zero_metrics: { 'total' => 0 }) do |results|
        { 'total' => results.values.sum { |r| r['n'] } }
      end
    end
  end

  def test_decision_mixin
    out = run_event(build_event(callable: 'TestMixins::Decider'))
    assert_equal({ route: 'both', decision_point_outcome: { type: 'create_steps', step_names: %w[a b] } }, out.result)
    assert_equal [true, 'create_steps', 2, 1], out.metadata.values_at(:decision_point, :outcome_type, :branches_created, :m)
    none = run_ok(build_event(callable: 'TestMixins::Decider', task_context: { 'mode' => 'none' }))
    assert_equal({ 'why' => 'none', 'decision_point_outcome' => { 'type' => 'no_branches' } }, none)
    custom = run_ok(build_event(callable: 'TestMixins::Decider', task_context: { 'mode' => 'custom' }))
    assert_equal ['x'], custom['decision_point_outcome']['step_names']
    bad = run_event(build_event(callable: 'TestMixins::Decider', task_context: { 'mode' => 'empty' }))
    assert_equal ['PermanentError', 'INVALID_DECISION_OUTCOME', false], [bad.error_type, bad.error_code, bad.retryable]
  end

  def test_batchable_mixin
    out = run_ok(build_event(callable: 'TestMixins::Batcher', task_context: { 'rows' => 5 }))
    assert_equal [2, 5], out.values_at('worker_count', 'total_items')
    assert_equal [[0, 3, 3], [3, 5, 2]], out['batch_processing_outcome']['cursor_configs'].map { |c| c.values_at('start_cursor', 'end_cursor', 'batch_size') }
    none = run_ok(build_event(callable: 'TestMixins::Batcher', task_context: { 'rows' => 0 }))
    assert_equal({ 'batch_processing_outcome' => { 'type' => 'no_batches' }, 'reason' => 'empty', 'rows' => 0 }, none)

    deps = { 'analyze' => dependency(out), 'w_001' => dependency({ 'n' => 2 }), 'w_002' => dependency({ 'n' => 3 }) }
    agg = run_ok(build_event(callable: 'TestMixins::Aggregator', dependency_results: deps))
    assert_equal({ 'total' => 5, 'worker_count' => 2, 'scenario' => 'with_batches' }, agg)
    zero = run_ok(build_event(callable: 'TestMixins::Aggregator', dependency_results: { 'analyze' => dependency(none) }))
    assert_equal({ 'worker_count' => 0, 'scenario' => 'no_batches', 'total' => 0 }, zero)
  end

  def test_batch_worker_failure
    out = Batcher.new.batch_worker_failure('no inputs')
    assert_equal ['no inputs', 'RetryableError', true, true], [out.message, out.error_type, out.retryable, out.metadata[:batch_worker]]
  end

  def test_batch_worker_context_validates_cursor
    ws = Struct.new(:inputs, :checkpoint)
    ctx = TaskerCore::BatchProcessing::BatchWorkerContext.new(ws.new({ 'is_no_op' => true }, nil))
    assert ctx.no_op?
    assert_raises(ArgumentError) { TaskerCore::BatchProcessing::BatchWorkerContext.new(ws.new({ 'cursor' => {} }, nil)) }
    assert_raises(ArgumentError) do
      TaskerCore::BatchProcessing::BatchWorkerContext.new(ws.new({ 'cursor' => { 'batch_id' => '1', 'start_cursor' => 5, 'end_cursor' => 2 } }, nil))
    end
    resumed = TaskerCore::BatchProcessing::BatchWorkerContext.new(
      ws.new({ 'cursor' => { 'batch_id' => '001', 'start_cursor' => 0, 'end_cursor' => 9 } }, { 'cursor' => 4, 'items_processed' => 4 })
    )
    assert_equal [true, 4, 4, 9], [resumed.has_checkpoint?, resumed.checkpoint_cursor, resumed.checkpoint_items_processed, resumed.end_cursor]
  end
end

# A one-request HTTP server on a loopback port for the API mixin.
class TestApiMixin < Minitest::Test
  include EventFactory

  Fetch = TaskerCore::StepHandler::Functional.api_handler('api_samples.fetch', base_url: 'http://127.0.0.1:1') do |api:, context:|
    response = api.get("/items/#{context.get_input('id')}")
    api.api_success(data: response.body, status: response.status)
  end

  def serve(status, body, headers = {})
    server = TCPServer.new('127.0.0.1', 0)
    thread = Thread.new do
      client = server.accept
      request_line = client.gets
      nil while (line = client.gets) && line != "\r\n"
      extra = headers.map { |k, v| "#{k}: #{v}\r\n" }.join
      client.write("HTTP/1.1 #{status} X\r\nContent-Type: application/json\r\nContent-Length: #{body.bytesize}\r\n#{extra}Connection: close\r\n\r\n#{body}")
      client.close
      request_line
    end
    [server, thread]
  end

  def run_against(status, body, headers = {})
    server, thread = serve(status, body, headers)
    TaskerCore::Registry::HandlerRegistry.instance.register_handler('api_samples.fetch', Fetch)
    event = build_event(callable: 'api_samples.fetch', task_context: { 'id' => 7 })
    handler = Class.new(Fetch) do
      define_method(:initialize) { |config: {}, logger: nil| super(config: { url: "http://127.0.0.1:#{server.addr[1]}" }, logger: logger) }
    end
    TaskerCore::Registry::HandlerRegistry.instance.register_handler('api_samples.fetch', handler)
    out = run_event(event)
    [out, thread.value]
  ensure
    server&.close
  end

  def test_success_and_status_classification
    out, request = run_against(200, '{"id":7}')
    assert_match %r{GET /items/7}, request
    assert_equal({ 'data' => { 'id' => 7 }, 'status' => 200, 'headers' => {} }, JSON.parse(JSON.generate(out.result)))
    out, = run_against(404, '{}')
    assert_equal ['PermanentError', false, 'HTTP_404'], [out.error_type, out.retryable, out.error_code]
    out, = run_against(429, '{}', 'Retry-After' => '12')
    assert_equal ['RetryableError', true, 12], [out.error_type, out.retryable, out.retry_after]
    out, = run_against(500, '{}')
    assert out.retryable
  end
end
