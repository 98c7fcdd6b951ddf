# frozen_string_literal: true

require 'test_helper'

class TestIndifferentHash < Minitest::Test
  HWIA = TaskerCore::HashWithIndifferentAccess

  def test_string_and_symbol_keys_are_one_key
    h = HWIA.new('a' => 1, b: { 'c' => [{ d: 2 }] })
    assert_equal 1, h[:a]
    assert_equal 1, h['a']
    assert_equal 2, h[:b][:c][0]['d']
    assert_equal 2, h.dig(:b, 'c', 0, :d)
    assert h.key?(:b)
    assert_equal({ 'a' => 1, 'b' => { 'c' => [{ 'd' => 2 }] } }, h.to_hash)
    assert_instance_of Hash, h.to_hash['b']
    h[:a] = 3
    assert_equal ['a', 'b'], h.keys
    assert_equal 3, h.fetch('a')
    assert_equal({ a: 3, b: { c: [{ d: 2 }] } }, h.deep_symbolize_keys)
    assert_equal [3], h.values_at(:a)
    assert_equal 3, h.delete(:a)
    assert_equal '{"b":{"c":[{"d":2}]}}', JSON.generate(h)
  end

  # A decoded JSON object takes the fast copy; anything else (symbol keys,
  # a default, identity comparison, a subclass) the key-by-key path. Both
  # give the same indifferent hash, nested hashes converted also inside
  # arrays, and never share the source's tables.
  def test_copies_of_plain_and_other_hashes_agree
    json = JSON.parse('{"a":{"b":[{"c":1},[{"d":2}],3]},"e":null,"f":"g"}')
    fast = HWIA.new(json)
    slow = HWIA.new(json.transform_keys(&:to_sym))
    [fast, slow].each do |h|
      assert_equal json, h.to_hash
      assert_instance_of HWIA, h[:a]
      assert_instance_of HWIA, h[:a][:b][0]
      assert_instance_of HWIA, h.dig(:a, :b, 1, 0)
      assert_equal 2, h.dig(:a, :b, 1, 0, :d)
      assert_equal %w[a e f], h.keys
    end
    fast[:x] = 1
    fast[:a][:y] = 2
    refute json.key?('x'), 'the source is not changed'
    refute json['a'].key?('y')

    defaulted = Hash.new(7).merge!('k' => 1)
    assert_nil HWIA.new(defaulted)[:missing], 'the default of the source is not copied'
    identity = {}.compare_by_identity
    identity['k'] = 1
    refute HWIA.new(identity).compare_by_identity?
    assert_equal 1, HWIA.new(identity)[:k]
  end

  def test_merge_and_core_extensions
    h = HWIA.new(a: 1).merge(b: 2)
    assert_instance_of HWIA, h
    assert_equal 2, h['b']
    assert_equal 1, { 'x' => 1 }.with_indifferent_access[:x]
    assert_equal({ x: { y: 1 } }, { 'x' => { 'y' => 1 } }.deep_symbolize_keys)
    assert_equal({ 'x' => { 'y' => 1 } }, { x: { y: 1 } }.deep_stringify_keys)
  end
end

class TestErrorsAndResults < Minitest::Test
  E = TaskerCore::Errors
  R = TaskerCore::Types::StepHandlerCallResult

  def test_error_classes_keep_tasker_core_signatures
    e = E::RetryableError.new('slow', retry_after: 7, context: { a: 1 })
    assert_equal [7, { a: 1 }, 'RetryableError'], [e.retry_after, e.context, e.error_class]
    p = E::PermanentError.new('bad', error_code: 'X', context: { b: 2 })
    assert_equal ['X', { b: 2 }], [p.error_code, p.context]
    v = E::ValidationError.new('v', field: 'amount', error_code: 'V')
    assert_equal ['amount', 'V'], [v.field, v.error_code]
    assert_kind_of E::PermanentError, v
    assert_kind_of E::PermanentError, E::NotFoundError.new('n', resource_type: 'user')
    assert_equal 30, E::TimeoutError.new('t', timeout_duration: 30).timeout_duration
    assert_equal 503, E::NetworkError.new('n', status_code: 503).status_code
    # Keywords tasker-core's own variants pass (error_category:) are kept in context.
    assert_equal({ error_category: 'x' }, E::PermanentError.new('m', error_category: 'x').context)
    assert_equal 'plain', E::PermanentError.new('plain').message
    assert_raises(E::PermanentError) { raise E::PermanentError, 'raised with a message' }
  end

  def test_classifier
    refute E::ErrorClassifier.retryable?(E::PermanentError.new('x'))
    refute E::ErrorClassifier.retryable?(E::ValidationError.new('x'))
    refute E::ErrorClassifier.retryable?(E::ConfigurationError.new('x'))
    assert E::ErrorClassifier.retryable?(E::RetryableError.new('x'))
    assert E::ErrorClassifier.retryable?(RuntimeError.new('x'))
    assert E::ErrorClassifier.retryable?(E::TimeoutError.new('x'))
  end

  def test_from_exception
    r = R.from_exception(E::RetryableError.new('later', retry_after: 5, context: { k: 1 }))
    assert_equal ['RetryableError', 'later', true, 5], [r.error_type, r.message, r.retryable, r.retry_after]
    assert_equal({ k: 1 }, r.metadata[:context])
    p = R.from_exception(E::PermanentError.new('never', error_code: 'NO'))
    assert_equal ['PermanentError', false, 'NO'], [p.error_type, p.retryable, p.error_code]
    x = R.from_exception(ArgumentError.new('boom').tap { |e| e.set_backtrace(['a.rb:1']) })
    assert_equal ['ArgumentError', 'boom', true, ['a.rb:1']], [x.error_type, x.message, x.retryable, x.backtrace]
  end

  def test_from_handler_output
    assert_equal 5, R.from_handler_output(5).result
    assert R.from_handler_output({ 'a' => 1 }).success?
    s = R.from_handler_output({ success: true, result: { x: 1 }, metadata: { m: 1 } })
    assert_equal [{ x: 1 }, { m: 1 }], [s.result, s.metadata]
    f = R.from_handler_output({ 'success' => false, 'message' => 'no', 'retryable' => true })
    assert_equal ['no', true, 'UnexpectedError'], [f.message, f.retryable, f.error_type]
    c = R.checkpoint_yield(cursor: 10, items_processed: 10)
    assert_same c, R.from_handler_output(c)
    assert c.checkpoint?
    assert_raises(ArgumentError) { R.checkpoint_yield(cursor: 1, items_processed: -1) }
  end

  def test_failure_accepts_both_message_keywords
    assert_equal 'a', R.failure(message: 'a', error_type: 'validation_error').message
    assert_equal 'b', R.failure(error_message: 'b', error_type: 'PaymentError', retryable: true).message
  end
end

class TestStepContext < Minitest::Test
  include EventFactory
  include ContextViews

  def context(**kw) = TaskerCore::Types::StepContext.new(build_event(callable: 'X', **kw)['task_sequence_step'])

  # What a context shows, as plain values and the classes of its hashes.
  # The worker hands the decoded event (string keys) to the views as it
  # is; a hand-built one may have symbol keys or be indifferent already.
  # All three show the same values, every hash they hand out indifferent
  # (also inside arrays), and none changes the event.
  def test_views_agree_whatever_the_keys
    event = build_event(callable: 'X', task_context: { 'n' => [{ 'deep' => 1 }] }, inputs: { 'i' => 1 },
                        checkpoint: { 'cursor' => 2 }, dependency_results: { 'p' => dependency({ 'x' => 1 }) })
    tss = JSON.parse(JSON.generate(event['task_sequence_step']))
    tss['step_definition']['publishes_events'] = [{ 'name' => 'e', 'schema' => { 'type' => 'object' } }]
    tss['step_definition']['batch_config'] = { 'batch_size' => 5 }
    before = Marshal.load(Marshal.dump(tss))
    plain = views(TaskerCore::Types::StepContext.new(tss))
    symbols = views(TaskerCore::Types::StepContext.new(TaskerCore::HashWithIndifferentAccess.deep_keys(tss, :to_sym)))
    indifferent = views(TaskerCore::Types::StepContext.new(TaskerCore::HashWithIndifferentAccess.new(tss)))
    assert_equal shapes(plain), shapes(symbols)
    assert_equal shapes(plain), shapes(indifferent)
    assert_equal before, tss
    ctx = TaskerCore::Types::StepContext.new(tss)
    assert_instance_of TaskerCore::HashWithIndifferentAccess, ctx.step_definition.publishes_events[0][:schema]
    assert_instance_of TaskerCore::HashWithIndifferentAccess, ctx.context[:n][0]
    assert_equal [5, 2, 1], [ctx.step_definition.batch_config[:batch_size], ctx.checkpoint_cursor, ctx.get_dependency_result(:p)['x']]
    refute_same tss['step_definition']['dependencies'], ctx.step_definition.dependencies, 'arrays are copies, as before'
    assert_nil TaskerCore::Types::StepContext.new({}).step_definition.handler.callable, 'an empty event has empty views'
  end

  def test_accessors
    ctx = context(task_context: { 'n' => 2, 'nested' => { 'k' => 'v' } }, step_name: 's1', inputs: { 'cursor' => 3 },
                  initialization: { 'url' => 'u' }, dependency_results: { 'p' => dependency({ 'x' => [1, { 'y' => 2 }] }) },
                  attempts: 1, max_attempts: 2, namespace: 'ns')
    assert_equal [2, 'v', 'v'], [ctx.get_input('n'), ctx.context[:nested][:k], ctx.get_task_field(:nested)['k']]
    assert_equal 9, ctx.get_input_or('missing', 9)
    assert_equal({ 'cursor' => 3 }, ctx.input_data.to_hash)
    assert_same ctx.input_data, ctx.step_inputs
    assert_equal ['u', 'u'], [ctx.step_config[:url], ctx.get_config(:url)]
    assert_equal 2, ctx.get_dependency_field('p', 'x', 1, :y)
    assert_equal 'completed', ctx.dependency_results.get_result('p')['status']
    assert_equal ['p'], ctx.dependency_results.keys
    assert_nil ctx.get_dependency_result('none')
    assert_equal [1, 2, true, true], [ctx.retry_count, ctx.max_retries, ctx.is_retry?, ctx.is_last_retry?]
    assert_equal ['s1', 'ns', 'X'], [ctx.step_name, ctx.namespace_name, ctx.handler_name]
    assert_equal ctx.task.task_uuid, ctx.task_uuid
    assert_equal ctx.workflow_step.workflow_step_uuid, ctx.step_uuid
    assert ctx.retryable?
    refute ctx.has_checkpoint?
    assert_equal 0, ctx.checkpoint_items_processed
  end

  def test_checkpoint_accessors
    ctx = context(checkpoint: { 'cursor' => 50, 'items_processed' => 50, 'accumulated_results' => { 'sum' => 9 } })
    assert ctx.has_checkpoint?
    assert_equal [50, 50, 9], [ctx.checkpoint_cursor, ctx.checkpoint_items_processed, ctx.accumulated_results[:sum]]
  end
end

class TestRegistry < Minitest::Test
  include EventFactory

  module Sample
    class Multi < TaskerCore::StepHandler::Base
      def call(_ctx) = success(result: { 'm' => 'call', 'config' => config.to_hash })
      def other(_ctx) = success(result: { 'm' => 'other' })
    end

    class NoConfig < TaskerCore::StepHandler::Base
      def initialize # rubocop:disable Lint/MissingSuper
        @config = { 'none' => true }
      end

      def call(_ctx) = success(result: config)
    end

    class Named < TaskerCore::StepHandler::Base
      def handler_name = 'sample.named'
      def call(_ctx) = success(result: 'named')
    end
  end

  def registry = TaskerCore::Registry::HandlerRegistry.instance

  def test_class_constant_method_dispatch_and_resolver_hint
    callable = 'TestRegistry::Sample::Multi'
    assert_equal({ 'm' => 'call', 'config' => { 'k' => 1 } },
                 run_ok(build_event(callable: callable, initialization: { 'k' => 1 })))
    assert_equal({ 'm' => 'other' }, run_ok(build_event(callable: callable, method: 'other')))
    assert_equal({ 'none' => true }, run_ok(build_event(callable: 'TestRegistry::Sample::NoConfig')))
    assert_nil registry.resolve_handler({ 'callable' => callable, 'method' => 'absent' })
    assert_nil registry.resolve_handler('No::Such::Handler')
    assert_nil registry.resolve_handler({ 'callable' => callable, 'resolver' => 'explicit_mapping' })
    assert_raises(TaskerCore::Registry::ResolverChain::ResolverNotFoundError) do
      registry.resolve_handler({ 'callable' => callable, 'resolver' => 'nope' })
    end
    wrapped = registry.resolve_handler({ 'callable' => callable, 'method' => 'other' })
    assert wrapped.wraps?(Sample::Multi)
    assert_equal 'TestRegistry::Sample::Multi', wrapped.handler_class.name
  end

  def test_explicit_registration_and_named_handlers
    registry.register_handler('lowercase.name', Sample::Multi)
    assert registry.handler_available?('lowercase.name')
    assert_includes registry.registered_handlers, 'lowercase.name'
    assert_equal 'call', run_ok(build_event(callable: 'lowercase.name'))['m']
    assert_includes registry.register_named_handlers, 'sample.named'
    assert_equal 'named', run_ok(build_event(callable: 'sample.named'))
  end

  def test_unresolvable_callable_fails_the_step_naming_it
    out = run_event(build_event(callable: 'nothing.registered'))
    refute out.success?
    assert_equal 'ConfigurationError', out.error_type
    refute out.retryable
    assert_match 'nothing.registered', out.message
  end
end

class TestTestingHelpers < Minitest::Test
  class Doubler < TaskerCore::StepHandler::Base
    def call(context) = success(result: context.get_dependency_result('start') * 2 + context.get_input('add'))
  end

  def test_run_and_context
    out = TaskerCore::Testing.run(Doubler, task_context: { 'add' => 1 }, dependency_results: { 'start' => 20 })
    assert_equal 41, out.result
    ctx = TaskerCore::Testing.context(task_context: { 'n' => 2 }, attempts: 1)
    assert_equal [2, 1], [ctx.get_input('n'), ctx.retry_count]
    assert_equal 41, Doubler.new.call(TaskerCore::Testing.context(task_context: { 'add' => 1 },
                                                                  dependency_results: { 'start' => 20 })).result
  end
end
