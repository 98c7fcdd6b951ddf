# frozen_string_literal: true

require 'test_helper'
require 'tmpdir'
require 'fiddle'

module RunnerSamples
  GATE = Queue.new
  RUNNING = Queue.new
  @lock = Mutex.new
  @active = 0
  @peak = 0

  class << self
    attr_reader :peak

    def track
      @lock.synchronize { @peak = [@peak, @active += 1].max }
      yield
    ensure
      @lock.synchronize { @active -= 1 }
    end

    def reset! = @lock.synchronize { @peak = @active = 0 }
  end
end

HANDLERS = <<~RUBY
  module RunnerSamples
    class Ok < TaskerCore::StepHandler::Base
      def call(ctx) = success(result: { 'n' => ctx.get_input('n') * 2 }, metadata: { 'source' => 'ok' })
    end

    class Later < TaskerCore::StepHandler::Base
      def call(_ctx) = raise(TaskerCore::Errors::RetryableError.new('try later', retry_after: 4.2, context: { 'svc' => 'x' }))
    end

    class Never < TaskerCore::StepHandler::Base
      def call(_ctx) = raise(TaskerCore::Errors::PermanentError.new('never', error_code: 'NOPE'))
    end

    class Crash < TaskerCore::StepHandler::Base
      def call(_ctx) = raise('kaput')
    end

    class Refused < TaskerCore::StepHandler::Base
      def call(_ctx) = failure(message: 'refused', error_type: 'ValidationError', error_code: 'BAD', retryable: false)
    end

    class NotJson < TaskerCore::StepHandler::Base
      def call(_ctx) = success(result: Float::NAN)
    end

    class Yielder < TaskerCore::StepHandler::Batchable
      def call(_ctx) = checkpoint_yield(cursor: 10, items_processed: 10, accumulated_results: { 'sum' => 55 })
    end

    class Publisher < TaskerCore::StepHandler::Base
      def call(ctx)
        ctx.publish_event('order.placed', { 'n' => ctx.get_input('n') })
        raise TaskerCore::Errors::PermanentError.new('declined') if ctx.get_input('fail')

        success(result: 'ok')
      end
    end

    class Blocker < TaskerCore::StepHandler::Base
      def call(_ctx)
        RunnerSamples.track do
          RUNNING << 1
          GATE.pop
        end
        success(result: 'released')
      end
    end
  end
RUBY

TEMPLATE = <<~YAML
  name: runner_samples
  namespace_name: runner_ns
  version: 1.0.0
  steps:
    - name: ok
      handler: { callable: RunnerSamples::Ok }
    - name: later
      handler: { callable: RunnerSamples::Later }
    - name: never
      handler: { callable: RunnerSamples::Never }
    - name: crash
      handler: { callable: RunnerSamples::Crash }
    - name: refused
      handler: { callable: RunnerSamples::Refused }
    - name: not_json
      handler: { callable: RunnerSamples::NotJson }
    - name: yielder
      handler: { callable: RunnerSamples::Yielder }
    - name: blocker
      handler: { callable: RunnerSamples::Blocker }
    - name: publisher
      handler: { callable: RunnerSamples::Publisher }
YAML

# A namespace mixing a Ruby callable with one no Ruby handler serves.
MIXED_TEMPLATE = <<~YAML
  name: mixed
  namespace_name: mixed_ns
  version: 1.0.0
  steps:
    - name: ruby_part
      handler: { callable: RunnerSamples::Ok }
    - name: go_part
      handler: { callable: Some::GoHandler }
YAML

class TestRunner < Minitest::Test
  include EventFactory

  # One handler directory for the whole class (its file is required once).
  def self.dir
    @dir ||= Dir.mktmpdir('tasker-ruby-runner').tap do |dir|
      FileUtils.mkdir_p(File.join(dir, 'handlers', 'nested'))
      File.write(File.join(dir, 'handlers', 'nested', 'samples.rb'), HANDLERS)
      File.write(File.join(dir, 'runner_samples.yaml'), TEMPLATE)
      File.write(File.join(dir, 'mixed.yaml'), MIXED_TEMPLATE)
      Minitest.after_run { FileUtils.remove_entry(dir) }
    end
  end

  def setup
    @dir = self.class.dir
    @lib = FakeLibrary.new
    RunnerSamples.reset!
  end

  def teardown
    @runner&.stop
  end

  def start(**opts)
    @runner = TaskerCore::Worker::Runner.new(handler_dirs: [File.join(@dir, 'handlers')], template_dirs: [@dir], ffi: @lib,
                                             poll_wait_ms: 20, **opts)
    @runner.start
  end

  def complete_for(event)
    @lib.push(event)
    id, payload = pop_within(@lib.completions)
    assert_equal event['event_id'], id
    payload
  end

  def test_bootstrap_sends_only_the_callables_that_resolve
    start(concurrency: 3, environment: 'test', overrides: { 'worker' => { 'claims' => { 'visibility_timeout' => '2s' } } })
    cfg = @lib.bootstrap_config
    assert_equal %w[Ok Later Never Crash Refused NotJson Yielder Blocker Publisher].map { |c| "RunnerSamples::#{c}" }.sort, cfg['callables']
    assert_equal ['Some::GoHandler'], @runner.unresolved
    assert_equal ['ruby', 'test', [File.expand_path(@dir)]], cfg.values_at('language', 'environment', 'template_paths')
    # The library claims only the declared callables' steps: every namespace
    # is served, mixed_ns's Go step included (it is left to a Go worker).
    assert_nil cfg['namespaces']
    assert(TestLog.drain.any? { |level, msg, _| level == 'info' && msg.include?('no Ruby handler for Some::GoHandler; its steps are left') })
    assert_equal({ 'handlers' => { 'max_concurrent' => 3, 'min_concurrent' => 3 }, 'claims' => { 'visibility_timeout' => '2s' } },
                 cfg['overrides']['worker'])
    assert_equal 'ruby-worker-test', @runner.worker_id
  end

  def test_explicit_namespaces_are_kept
    start(namespaces: %w[mixed_ns])
    assert_equal ['mixed_ns'], @lib.bootstrap_config['namespaces']
    refute @lib.bootstrap_config.key?('poll_spin_us'), 'polls sleep at once unless asked to spin'
  end

  def test_poll_spin_is_passed_to_the_library
    start(poll_spin_us: 150)
    assert_equal 150, @lib.bootstrap_config['poll_spin_us']
  end

  def test_success_payload
    start
    event = build_event(callable: 'RunnerSamples::Ok', task_context: { 'n' => 21 })
    p = complete_for(event)
    assert_equal [event['step_uuid'], true, 'completed', { 'n' => 42 }, nil], p.values_at('step_uuid', 'success', 'status', 'result', 'error')
    assert_equal [{ 'source' => 'ok' }, 'ruby-worker-test', false], p['metadata'].values_at('custom', 'worker_id', 'retryable')
    assert_kind_of Integer, p['metadata']['execution_time_ms']
    assert Time.iso8601(p['metadata']['completed_at']) >= Time.iso8601(p['metadata']['started_at'])
  end

  def test_published_events_travel_with_the_result
    start
    ok = complete_for(build_event(callable: 'RunnerSamples::Publisher', task_context: { 'n' => 7 }))
    assert_equal [true, [{ 'event_name' => 'order.placed', 'payload' => { 'n' => 7 } }]], ok.values_at('success', 'domain_events')
    # Published before the exception: kept with the failure.
    failed = complete_for(build_event(callable: 'RunnerSamples::Publisher', task_context: { 'n' => 8, 'fail' => true }))
    assert_equal [false, [{ 'event_name' => 'order.placed', 'payload' => { 'n' => 8 } }]], failed.values_at('success', 'domain_events')
    refute complete_for(build_event(callable: 'RunnerSamples::Ok', task_context: { 'n' => 1 })).key?('domain_events')
    ctx = TaskerCore::Types::StepContext.new(build_event(callable: 'RunnerSamples::Ok')['task_sequence_step'])
    assert_raises(ArgumentError) { ctx.publish_event('') }
  end

  def test_failure_payloads
    start
    later = complete_for(build_event(callable: 'RunnerSamples::Later'))
    assert_equal [false, 'error', nil], later.values_at('success', 'status', 'result')
    assert_equal ['try later', 'RetryableError', true, { 'svc' => 'x' }], later['error'].values_at('message', 'error_type', 'retryable', 'context')
    assert_match(/samples\.rb:\d+/, later['error']['backtrace'].first)
    assert_equal [true, 'RetryableError'], later['metadata'].values_at('retryable', 'error_type')
    assert_equal({ 'backoff_type' => 'ServerRequested', 'delay_seconds' => 5 }, later['orchestration_metadata']['backoff_hint'])

    never = complete_for(build_event(callable: 'RunnerSamples::Never'))
    assert_equal ['never', 'PermanentError', false], never['error'].values_at('message', 'error_type', 'retryable')
    assert_equal ['NOPE', false], never['metadata'].values_at('error_code', 'retryable')
    assert_nil never['orchestration_metadata']

    crash = complete_for(build_event(callable: 'RunnerSamples::Crash'))
    assert_equal ['kaput', 'RuntimeError', true], crash['error'].values_at('message', 'error_type', 'retryable')
    refute_empty crash['error']['backtrace']

    refused = complete_for(build_event(callable: 'RunnerSamples::Refused'))
    assert_equal ['refused', 'ValidationError', false, nil], refused['error'].values_at('message', 'error_type', 'retryable', 'backtrace')

    bad = complete_for(build_event(callable: 'RunnerSamples::NotJson'))
    assert_equal ['invalid_result', false], bad['error'].values_at('error_type', 'retryable')
    assert_match(/cannot be sent as JSON/, bad['error']['message'])

    missing = complete_for(build_event(callable: 'Some::GoHandler'))
    assert_equal ['ConfigurationError', false], missing['error'].values_at('error_type', 'retryable')
  end

  def test_checkpoint_yield_goes_to_the_checkpoint_call
    start
    event = build_event(callable: 'RunnerSamples::Yielder')
    @lib.push(event)
    id, data = pop_within(@lib.checkpoints)
    assert_equal [event['event_id'], { 'cursor' => 10, 'items_processed' => 10, 'accumulated_results' => { 'sum' => 55 } }], [id, data]
    assert @lib.completions.empty?
  end

  # A step goes from the poll straight to its handler: the thread whose
  # poll returned the event runs the handler and completes it (no hand-off
  # to another thread), and each poll asks for one event.
  def test_the_thread_that_polls_an_event_runs_and_completes_it
    polled_by = {}
    completed_by = Queue.new
    sizes = Queue.new
    @lib.singleton_class.prepend(Module.new do
      define_method(:poll) do |handle, max_events, wait_ms|
        reply = super(handle, max_events, wait_ms)
        sizes << max_events
        reply['events'].each { |e| polled_by[e['event_id']] = Thread.current }
        reply
      end
      define_method(:complete) do |handle, event_id, json|
        completed_by << [event_id, Thread.current]
        super(handle, event_id, json)
      end
    end)
    start(concurrency: 3)
    events = Array.new(6) { |i| build_event(callable: 'RunnerSamples::Ok', task_context: { 'n' => i }) }
    events.each { |e| @lib.push(e) }
    6.times do
      id, thread = pop_within(completed_by)
      assert_same polled_by.fetch(id), thread, "event #{id} was completed by another thread than the one that polled it"
      pop_within(@lib.completions)
    end
    assert_equal [1], Array.new(sizes.size) { sizes.pop }.uniq
  end

  def test_never_more_handlers_than_threads
    start(concurrency: 2)
    6.times { @lib.push(build_event(callable: 'RunnerSamples::Blocker')) }
    2.times { pop_within(RunnerSamples::RUNNING) }
    6.times { RunnerSamples::GATE << :go }
    6.times { pop_within(@lib.completions) }
    assert_equal 2, RunnerSamples.peak
    4.times { pop_within(RunnerSamples::RUNNING) }
  end

  def test_a_handler_outliving_its_step_timeout_gets_its_thread_replaced
    start(concurrency: 1, hung_grace: 0)
    @lib.push(build_event(callable: 'RunnerSamples::Blocker', timeout_seconds: 0))
    pop_within(RunnerSamples::RUNNING)
    # The only thread is stuck; the next step still runs on a new thread.
    event = build_event(callable: 'RunnerSamples::Ok', task_context: { 'n' => 1 })
    assert_equal({ 'n' => 2 }, complete_for(event)['result'])
    RunnerSamples::GATE << :go
    assert_equal 'released', pop_within(@lib.completions).last['result']
  end

  def test_stop_ends_the_poll_loop
    start
    @runner.stop(1.5)
    assert_equal [[7, 1500]], @lib.stops
    assert @runner.wait
  end

  def test_run_stops_on_sigterm
    previous = Signal.trap('TERM', 'DEFAULT')
    runner = TaskerCore::Worker::Runner.new(handler_dirs: [File.join(@dir, 'handlers')], template_dirs: [@dir], ffi: @lib, poll_wait_ms: 20)
    status = runner.run { Thread.new { Process.kill('TERM', Process.pid) } }
    assert_equal 0, status
    assert_equal 1, @lib.stops.size
  ensure
    Signal.trap('TERM', previous || 'DEFAULT')
  end

  def test_bad_configuration_is_refused
    assert_raises(ArgumentError) { TaskerCore::Worker::Runner.new(concurrency: 0) }
    e = assert_raises(TaskerCore::Errors::ConfigurationError) do
      TaskerCore::Worker::Runner.new(handler_dirs: [File.join(@dir, 'nope')], ffi: @lib).start
    end
    assert_match 'nope', e.message
    e = assert_raises(TaskerCore::Errors::ConfigurationError) { TaskerCore::Worker::Runner.new(template_dirs: [@dir + '/x'], ffi: @lib).start }
    assert_match 'no template callable resolves', e.message
  end
end

# Fiddle releases the GVL during a foreign call: a second Ruby thread keeps
# running while one thread waits inside C (here libc's usleep; the e2e test
# does the same with tasker_poll_step_events).
class TestFiddleReleasesGvl < Minitest::Test
  def test_other_threads_run_during_a_blocking_call
    usleep = Fiddle::Function.new(Fiddle.dlopen(nil)['usleep'], [Fiddle::TYPE_INT], Fiddle::TYPE_INT)
    ticks = 0
    counter = Thread.new { loop { ticks += 1 } }
    sleep 0.01 until ticks.positive?
    before = ticks
    usleep.call(300_000)
    during = ticks - before
    counter.kill.join
    assert_operator during, :>, 1000, 'the counting thread was stopped by the foreign call'
  end
end
