# frozen_string_literal: true

require 'test_helper'

# Lines below the log level never reach the worker library: each call into
# it costs a foreign call and a JSON encoding, per step for a handler that
# logs, only for the library to drop the line at its own (same) level.
class TestLogLevelFilter < Minitest::Test
  def setup
    @calls = calls = []
    @ffi = TaskerCore::FFI.singleton_class
    @ffi.alias_method(:__log, :log)
    @ffi.alias_method(:__loaded?, :loaded?)
    @ffi.define_method(:log) { |level, message, fields = nil, **| calls << [level, message, fields] }
    @ffi.define_method(:loaded?) { true }
    @level = TaskerCore::Tracing.level
    TaskerCore::Tracing.sink = nil
  end

  def teardown
    @ffi.alias_method(:log, :__log)
    @ffi.alias_method(:loaded?, :__loaded?)
    @ffi.remove_method(:__log, :__loaded?)
    TaskerCore::Tracing.level = @level
    TaskerCore::Tracing.sink = ->(level, message, fields) { TestLog.lines << [level, message, fields] }
  end

  def test_lines_below_the_level_do_not_call_the_library
    TaskerCore::Tracing.level = 'warn'
    logger = TaskerCore::Logger.instance
    logger.debug('d')
    logger.info('i')
    logger.log_step(:info, 'op')
    logger.warn('w')
    logger.error('e')
    assert_equal [%w[warn w], %w[error e]], @calls.map { |c| c.first(2) }
  end

  def test_a_line_below_the_level_costs_no_block_and_no_fields
    TaskerCore::Tracing.level = 'warn'
    logger = TaskerCore::Logger.instance
    called = []
    logger.define_singleton_method(:step_fields) { called << :fields and {} }
    logger.info { called << :block and 'i' }
    assert_empty called
    logger.warn { called << :block and 'w' }
    assert_equal %i[block fields], called
    assert_equal [%w[warn w]], @calls.map { |c| c.first(2) }
  ensure
    logger.singleton_class.remove_method(:step_fields)
  end

  def test_the_level_follows_the_library_names
    TaskerCore::Tracing.level = 'trace'
    TaskerCore::Logger.instance.debug('d')
    assert_equal [%w[debug d]], @calls.map { |c| c.first(2) }
    TaskerCore::Tracing.level = 'WARNING' # not a library level name: info, as the library reads it
    assert_equal 'info', TaskerCore::Tracing.level
    assert TaskerCore::Tracing.enabled?('info')
    refute TaskerCore::Tracing.enabled?('debug')
  end
end
