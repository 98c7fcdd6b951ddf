# frozen_string_literal: true

# Measures what the Ruby worker spends on one step event on the host side,
# without a database: the poll reply is decoded, the handler runs (a bench
# handler squaring its parent's result), and the result is encoded, exactly
# as TaskerCore::Worker::Runner does it, against a stand-in for the library
# that hands out a captured linear_step_2 event and keeps the results.
# Reported as thread CPU microseconds per event (CLOCK_THREAD_CPUTIME_ID:
# unlike wall time, it barely moves with the load of the machine), with
# the share of each phase.
#
#   ruby bindings/ruby/bench/event_cost.rb [EVENTS]
#
# The event is bindings/capi/testdata/step_event.json, polled as the worker
# polls it: with the indexed poll (its reply, as the library writes it, is
# bindings/capi/testdata/step_event_indexed.txt), or with the plain one
# (EVENT_COST_POLL=plain, the reply decoded whole).
$LOAD_PATH.unshift(File.expand_path('../lib', __dir__))
ENV['TASKER_LOG_LEVEL'] ||= 'warn'
require 'tasker_core'
require 'tasker_core/worker'
require_relative '../examples/bench/native_examples'

CALLABLE = 'tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler'
event = JSON.parse(File.read(File.expand_path('../../capi/testdata/step_event.json', __dir__)))
event['task_sequence_step']['step_definition']['handler']['callable'] = CALLABLE
REPLY = JSON.generate('ok' => true, 'events' => [event], 'state' => 'running').freeze
INDEXED_REPLY = File.binread(File.expand_path('../../capi/testdata/step_event_indexed.txt', __dir__)).freeze
INDEXED = ENV.fetch('EVENT_COST_POLL', 'indexed') == 'indexed'

# The library's side of the calls the runner makes, in Ruby: poll decodes
# the reply text as TaskerCore::FFI does; complete keeps the result.
class StandIn
  attr_reader :results

  def initialize = @results = []
  def poll(*) = JSON.parse(REPLY.dup.force_encoding(Encoding::UTF_8))
  def indexed? = INDEXED

  def poll_indexed(*)
    events, header = TaskerCore::IndexedEvent.events_of(INDEXED_REPLY.dup) # a new String, as Fiddle gives
    [events, header['state']]
  end
  def complete(_handle, _event_id, json) = @results << json
  def log_handle=(_); end
end

def cpu = Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID)

n = Integer(ARGV[0] || 20_000)
ffi = StandIn.new
runner = TaskerCore::Worker::Runner.new(ffi: ffi, concurrency: 1)
runner.instance_variable_set(:@worker_id, 'ruby-bench')
runner.instance_variable_set(:@handle, 1)
step = lambda do
  events, = runner.send(:poll_once, INDEXED)
  runner.send(:run_event, events.first)
end
Integer(ENV.fetch("EVENT_COST_WARMUP", "2000")).times { step.call } # warm-up
ffi.results.clear
GC.start
t0 = cpu
n.times { step.call }
total = cpu - t0
result = JSON.parse(ffi.results.last)
raise "unexpected result #{result}" unless result['success'] && result['result'] == 36 * 36

printf("ruby %s, %s poll, %d events: %.1f us CPU per event\n", RUBY_VERSION, INDEXED ? 'indexed' : 'plain', n, total / n * 1e6)
