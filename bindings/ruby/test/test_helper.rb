# frozen_string_literal: true

require 'minitest/autorun'
require 'securerandom'
require 'timeout'
require 'tasker_core'

# Log lines go to TestLog instead of $stderr.
module TestLog
  def self.lines = (@lines ||= Queue.new)
  def self.drain = Array.new(lines.size) { lines.pop }
end
TaskerCore::Tracing.sink = ->(level, message, fields) { TestLog.lines << [level, message, fields] }

module TestPaths
  REPO = File.expand_path('../../..', __dir__)
  SHARED = ENV['TASKER_SHARED_DIR'] || File.expand_path('../shared', REPO)
  REFERENCE_RUBY = File.join(SHARED, 'reference', 'tasker-core-bindings', 'ruby')
  FIXTURES = ENV['TASKER_FIXTURES_DIR'] || File.join(SHARED, 'fixtures', 'tasker-core')
  RUBY_TEMPLATES = File.join(FIXTURES, 'task_templates', 'ruby')
  EXAMPLES = File.expand_path('../examples', __dir__)

  # Skips the test when tasker-core's files (kept outside the repository)
  # are not there.
  def require_shared!(path)
    skip "tasker-core reference files not found at #{path} (they live outside the repository, in ../shared)" unless File.exist?(path)
  end
end

# Builds step events in tasker-core's shape (as the worker library sends
# them) and runs them through the worker's own handler path.
module EventFactory
  def dependency(result, success: true)
    { 'step_uuid' => SecureRandom.uuid, 'success' => success, 'result' => result,
      'status' => success ? 'completed' : 'error', 'metadata' => { 'execution_time_ms' => 1, 'custom' => {} } }
  end

  def build_event(callable:, task_context: {}, step_name: 'a_step', inputs: nil, initialization: {}, method: nil, resolver: nil,
                  dependency_results: {}, attempts: 0, max_attempts: 3, checkpoint: nil, namespace: 'test_ns', timeout_seconds: 30)
    task_uuid = SecureRandom.uuid
    step_uuid = SecureRandom.uuid
    now = Time.now.utc.iso8601
    {
      'event_id' => SecureRandom.uuid, 'task_uuid' => task_uuid, 'step_uuid' => step_uuid, 'correlation_id' => SecureRandom.uuid,
      'task_correlation_id' => SecureRandom.uuid,
      'task_sequence_step' => {
        'task' => { 'task' => { 'task_uuid' => task_uuid, 'named_task_uuid' => nil, 'complete' => false, 'requested_at' => now,
                                'initiator' => 'test', 'source_system' => 'test', 'reason' => 'test', 'tags' => [],
                                'context' => task_context, 'identity_hash' => nil, 'priority' => 0, 'created_at' => now,
                                'updated_at' => now, 'correlation_id' => SecureRandom.uuid, 'parent_correlation_id' => nil },
                    'task_name' => 'a_task', 'task_version' => '1.0.0', 'namespace_name' => namespace },
        'workflow_step' => { 'workflow_step_uuid' => step_uuid, 'task_uuid' => task_uuid, 'named_step_uuid' => nil, 'name' => step_name,
                             'template_step_name' => step_name, 'retryable' => true, 'max_attempts' => max_attempts, 'in_process' => true,
                             'processed' => false, 'processed_at' => nil, 'attempts' => attempts, 'last_attempted_at' => nil,
                             'backoff_request_seconds' => nil, 'inputs' => inputs || initialization, 'results' => nil,
                             'checkpoint' => checkpoint, 'created_at' => now, 'updated_at' => now },
        'dependency_results' => dependency_results,
        'step_definition' => { 'name' => step_name, 'description' => '', 'handler' => { 'callable' => callable, 'method' => method,
                                                                                      'resolver' => resolver, 'initialization' => initialization },
                               'type' => 'standard', 'dependencies' => dependency_results.keys,
                               'retry' => { 'retryable' => true, 'max_attempts' => max_attempts, 'backoff' => 'exponential',
                                            'backoff_base_ms' => 1000, 'max_backoff_ms' => 30_000 },
                               'timeout_seconds' => timeout_seconds, 'publishes_events' => [], 'batch_config' => nil }
      }
    }
  end

  # Runs an event exactly as the worker does (JSON round trip included: as
  # the indexed poll hands it over, or the plain one with
  # TASKER_TEST_POLL=plain) and returns the StepHandlerCallResult.
  def run_event(event)
    TaskerCore::Worker::Runner.new.run_handler(IndexedReply.as_polled([event]).first)
  end

  # Runs and asserts success; returns the result as the next step sees it.
  def run_ok(event)
    outcome = run_event(event)
    assert outcome.success?, -> { "expected success, got #{outcome.to_h.except(:backtrace)} #{outcome.backtrace&.first(3)}" }
    JSON.parse(JSON.generate(outcome.result))
  end
end

# The reply of tasker_poll_step_events_indexed (tasker_worker.h), written
# here from events, and the events as the worker gets them from either poll.
module IndexedReply
  # Which poll the tests run their events through: "indexed" (the default,
  # as the worker polls a library that has it) or "plain" (the whole event
  # decoded at once). The Go test runs the suite both ways.
  INDEXED = ENV.fetch('TASKER_TEST_POLL', 'indexed') == 'indexed'
  PATHS = TaskerCore::IndexedEvent::PATHS

  def self.write(events, state = 'running')
    at = 0
    bodies = []
    entries = events.map do |event|
      spans = {}
      body = +''
      encode = lambda do |value, path|
        start = body.bytesize
        if value.is_a?(Hash)
          body << '{'
          value.each_with_index do |(k, v), i|
            body << ',' if i.positive?
            body << JSON.generate(k.to_s) << ':'
            encode.call(v, path + [k.to_s])
          end
          body << '}'
        else
          body << JSON.generate(value)
        end
        spans[PATHS.index(path)] = [at + start, at + body.bytesize] if PATHS.include?(path)
      end
      encode.call(event, [])
      tss = event['task_sequence_step']
      handler = tss['step_definition']['handler']
      ws = tss['workflow_step']
      at += body.bytesize
      bodies << body
      [event['event_id'], event['task_uuid'], event['step_uuid'], event['correlation_id'], handler['callable'], handler['method'],
       handler['resolver'], tss['step_definition']['timeout_seconds'], ws['name'], ws['attempts'], ws['max_attempts'],
       PATHS.each_index.flat_map { |k| spans.fetch(k) }]
    end
    "#{JSON.generate({ 'ok' => true, 'events' => entries, 'state' => state })}\n#{bodies.join}".b
  end

  # The events as a poll hands them to the worker.
  def self.as_polled(events)
    events = JSON.parse(JSON.generate(events))
    INDEXED ? TaskerCore::IndexedEvent.events_of(write(events)).first : events
  end
end

# Pops a queue, failing the test after `seconds` instead of hanging.
# Everything a handler can read of a step context, and the shape of it
# (classes of the hashes included), to compare two ways of building one.
module ContextViews
  def views(ctx)
    s, d, t = ctx.workflow_step, ctx.step_definition, ctx.task
    fields = TaskerCore::Models::WorkflowStepWrapper::FIELDS.map { |f| s.public_send(f) }
    [t.context, t.task, t.task_uuid, t.namespace_name, t.task_name, t.task_version, fields, s.inputs, s.results, s.checkpoint,
     ctx.dependency_results.to_h, d.handler.callable, d.handler.initialization, d.handler.handler_method, d.handler.resolver,
     d.name, d.description, d.dependencies, d.retry, d.timeout_seconds, d.publishes_events, d.type, d.batch_config,
     ctx.correlation_id, ctx.step_name, ctx.retry_count, ctx.max_retries, ctx.event]
  end

  def shapes(value)
    case value
    when Hash then [value.class, value.to_h { |k, v| [k, shapes(v)] }]
    when Array then value.map { |v| shapes(v) }
    else value
    end
  end
end

def pop_within(queue, seconds = 10)
  Timeout.timeout(seconds) { queue.pop }
rescue Timeout::Error
  raise Minitest::Assertion, "nothing arrived within #{seconds}s"
end

# A stand-in for the worker library (same methods as TaskerCore::FFI): it
# hands out the events it is given and records what comes back.
class FakeLibrary
  attr_reader :completions, :checkpoints, :bootstrap_config, :stops

  def initialize(events = [])
    @events = Queue.new
    events.each { |e| @events << e }
    @completions = Queue.new
    @checkpoints = Queue.new
    @stops = []
    @state = 'running'
    @lock = Mutex.new
  end

  def push(event) = @events << event
  def load! = self
  def indexed? = IndexedReply::INDEXED

  def poll_indexed(handle, max_events, wait_ms)
    reply = poll(handle, max_events, wait_ms)
    events, header = TaskerCore::IndexedEvent.events_of(IndexedReply.write(reply['events'], reply['state']))
    [events, header['state']]
  end
  def log_handle=(_handle); end

  def bootstrap(config)
    @bootstrap_config = JSON.parse(JSON.generate(config))
    { 'ok' => true, 'handle' => 7, 'worker_id' => 'ruby-worker-test', 'callables' => config['callables'] }
  end

  def poll(handle, max_events, wait_ms)
    raise TaskerCore::FFI::CallError.new('unknown_handle', 'stopped', :tasker_poll_step_events) if @lock.synchronize { @state } == 'gone'
    raise ArgumentError, "bad handle #{handle}" unless handle == 7
    raise ArgumentError, "max_events #{max_events}" unless max_events.between?(1, 1000)

    deadline = Time.now + (wait_ms / 1000.0)
    sleep 0.002 while @events.empty? && Time.now < deadline
    events = []
    events << @events.pop while events.size < max_events && !@events.empty?
    { 'ok' => true, 'events' => JSON.parse(JSON.generate(events)), 'state' => @lock.synchronize { @state } }
  end

  def complete(_handle, event_id, json)
    @completions << [event_id, JSON.parse(json)]
    { 'ok' => true }
  end

  def checkpoint_yield(_handle, event_id, json)
    @checkpoints << [event_id, JSON.parse(json)]
    { 'ok' => true }
  end

  def stop(handle, timeout_ms)
    @stops << [handle, timeout_ms]
    @lock.synchronize { @state = 'gone' }
    { 'ok' => true }
  end

  def status(_handle) = { 'ok' => true, 'state' => @state }
end
