# frozen_string_literal: true

require 'test_helper'

# Step events from the indexed poll: decoded part by part, the same objects
# wherever they are read, and the same views for handlers as the whole
# event gives.
class TestIndexedEvent < Minitest::Test
  include ContextViews
  include EventFactory
  IE = TaskerCore::IndexedEvent
  TESTDATA = File.expand_path('../../capi/testdata', __dir__)

  def event
    e = build_event(callable: 'X', step_name: 's1', task_context: { 'n' => [{ 'deep' => 1 }] }, inputs: { 'i' => 1 },
                    initialization: { 'cfg' => true }, checkpoint: { 'cursor' => 2 }, attempts: 2, max_attempts: 5,
                    method: 'run', dependency_results: { 'p' => dependency({ 'x' => 1 }) })
    JSON.parse(JSON.generate(e))
  end

  def indexed(e) = IE.events_of(IndexedReply.write([e])).first.first

  def test_header_fields_and_parts
    e = event
    ix = indexed(e)
    assert_equal [e['event_id'], e['task_uuid'], e['step_uuid'], e['correlation_id'], 'X', 'run', nil, 30, 's1', 2, 5],
                 [ix.event_id, ix.task_uuid, ix.step_uuid, ix.correlation_id, ix.callable, ix.handler_method, ix.resolver,
                  ix.timeout_seconds, ix.step_name, ix.attempts, ix.max_attempts]
    IE::PATHS.each_with_index { |path, k| assert_equal(path.empty? ? e : e.dig(*path), indexed(e).part(k), path.inspect) }
    assert_equal e, ix.to_h
    assert_equal [e['step_uuid'], e['task_correlation_id']], [ix['step_uuid'], ix['task_correlation_id']]
  end

  def test_parts_decoded_once_and_shared
    ix = indexed(event)
    ctx = ix.part(IE::CONTEXT)
    deps = ix.part(IE::DEPENDENCY_RESULTS)
    refute ix.decoded?(IE::TASK)
    assert_same ctx, ix.part(IE::TASK)['task']['context']
    tss = ix.to_h['task_sequence_step']
    assert_same ctx, tss['task']['task']['context']
    assert_same deps, tss['dependency_results']
    ix = indexed(event)
    ws = ix.part(IE::WORKFLOW_STEP)
    assert ix.decoded?(IE::INPUTS)
    assert_same ws['inputs'], ix.part(IE::INPUTS)
    assert_same ws, ix.to_h['task_sequence_step']['workflow_step']
    ix = indexed(event)
    ix.part(IE::WORKFLOW_STEP).delete('inputs')
    assert_equal({ 'i' => 1 }, ix.part(IE::INPUTS), 'a changed enclosing part does not hide the inner one')
  end

  # What a context shows, as plain values and the classes of its hashes.
  def test_views_match_the_whole_event
    e = event
    plain = views(TaskerCore::Types::StepContext.new(e['task_sequence_step'], event: e))
    ix = indexed(e)
    lazy = TaskerCore::Types::StepContext.new(ix, event: ix)
    assert_equal shapes(plain), shapes(views(lazy))
    ix = indexed(e)
    ix.to_h # the whole event first: the views read it
    assert_equal shapes(plain), shapes(views(TaskerCore::Types::StepContext.new(ix, event: ix)))
    lazy = TaskerCore::Types::StepContext.new(indexed(e))
    assert_same lazy.context, lazy.task.task[:context], 'the context is the task row\'s, as with the whole event'
  end

  def test_reply_written_here_is_the_librarys
    golden = File.binread(File.join(TESTDATA, 'step_event_indexed.txt'))
    e = JSON.parse(File.read(File.join(TESTDATA, 'step_event.json')))
    e['task_sequence_step']['step_definition']['handler']['callable'] = 'tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler'
    assert_equal golden, IndexedReply.write([e])
    events, header = IE.events_of(golden)
    assert_equal ['running', e], [header['state'], events.first.to_h]
  end

  def test_several_events_and_errors
    a = event
    b = JSON.parse(JSON.generate(build_event(callable: 'Y')))
    events, = IE.events_of(IndexedReply.write([a, b]))
    assert_equal [a, b], events.map(&:to_h)
    events, header = IE.events_of('{"ok":false,"error":{"code":"unknown_handle","message":"m"}}'.b)
    assert_equal [[], 'unknown_handle'], [events, header['error']['code']]
    assert_equal [[], 'stopped'], IE.events_of("{\"ok\":true,\"events\":[],\"state\":\"stopped\"}\n".b).then { |ev, h| [ev, h['state']] }
  end
end
