# frozen_string_literal: true

require 'singleton'

module TaskerCore
  # Structured logging into the worker's log. Lines below the log level
  # (TASKER_LOG_LEVEL, default info: the level the worker library also
  # reads) are dropped here, before they cost a call into the library.
  # While a worker library is loaded every other line goes through
  # tasker_log (one JSON line in the worker's log, tagged with the worker id
  # and "source":"ruby"); before that, to $stderr.
  module Tracing
    LEVELS = %w[trace debug info warn error].freeze

    class << self
      # Replaces where lines go (tests); a callable (level, message, fields)
      # that receives every line, whatever the level.
      attr_writer :sink

      LEVELS.each do |level|
        define_method(level) { |message, fields = {}| emit(level, message, fields) }
      end

      # The lowest level written: trace, debug, info, warn or error (an
      # unknown name means info, as in the library).
      def level = LEVELS[threshold]

      def level=(name)
        @threshold = LEVELS.index(name.to_s) || 2
      end

      def enabled?(level) = LEVELS.index(level.to_s).to_i >= threshold

      # Whether a line of level goes anywhere (a sink takes every line).
      def wanted?(level) = !@sink.nil? || enabled?(level)

      def emit(level, message, fields)
        return @sink.call(level, message.to_s, normalize(fields)) if @sink
        return unless enabled?(level)
        return TaskerCore::FFI.log(level, message.to_s, normalize(fields)) if defined?(TaskerCore::FFI) && TaskerCore::FFI.loaded?

        fields = normalize(fields)
        $stderr.puts("[#{level}] #{message}#{" #{JSON.generate(fields)}" unless fields.empty?}")
      rescue StandardError => e
        $stderr.puts("tasker logging failed (#{e.class}: #{e.message}): #{message}")
      end

      private

      def threshold = @threshold ||= LEVELS.index(ENV.fetch('TASKER_LOG_LEVEL', 'info')) || 2

      def normalize(fields)
        (fields || {}).to_h.each_with_object({}) do |(k, v), out|
          out[k.to_s] = case v
                        when nil, true, false, Numeric, String then v
                        when Exception then "#{v.class}: #{v.message}"
                        else v.respond_to?(:to_hash) || v.is_a?(Array) ? v : v.to_s
                        end
        end
      end
    end
  end

  # tasker-core's logger facade (TaskerCore::Logger.instance and a handler's
  # `logger`); the step being run is added to every line.
  class Logger
    include Singleton

    # A line below the log level costs a level check: its block is not
    # called and the step's fields are not gathered.
    %w[debug info warn error].each do |level|
      define_method(level) do |message = nil, &blk|
        Tracing.emit(level, message || blk&.call, step_fields) if Tracing.wanted?(level)
      end
    end

    def fatal(message = nil) = Tracing.emit('error', message || (yield if block_given?), step_fields.merge(severity: 'fatal'))

    %w[task queue_worker orchestrator step database ffi config registry].each do |component|
      define_method("log_#{component}") do |level, operation, **data|
        level = level.to_s == 'fatal' ? 'error' : level.to_s
        Tracing.emit(level, operation, step_fields.merge(operation: operation, component: component).merge(data))
      end
    end

    private

    def step_fields
      t = Thread.current
      { correlation_id: t[:correlation_id], task_uuid: t[:task_uuid], step_uuid: t[:step_uuid] }.compact
    end
  end
end
