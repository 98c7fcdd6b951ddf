# frozen_string_literal: true

require 'fiddle'
require 'json'

module TaskerCore
  # The worker library's C ABI (version 1) through Ruby's Fiddle. Every call
  # returns a JSON reply that is parsed and freed here; {"ok":false,...}
  # raises FFI::CallError with the library's error code. Fiddle releases the
  # GVL during each call, so a poll that waits does not stop other threads.
  module FFI
    class CallError < Errors::FFIError
      attr_reader :code

      def initialize(code, message, operation)
        super("#{operation}: #{code}: #{message}", operation: operation)
        @code = code
      end
    end

    S = Fiddle::TYPE_CONST_STRING
    H = Fiddle::TYPE_INT64_T
    I = Fiddle::TYPE_INT32_T
    P = Fiddle::TYPE_VOIDP
    SIGNATURES = {
      tasker_worker_bootstrap: [S], tasker_poll_step_events: [H, I, I], tasker_complete_step_event: [H, S, S],
      tasker_checkpoint_yield_step_event: [H, S, S], tasker_worker_status: [H], tasker_health: [H], tasker_metrics: [H],
      tasker_log: [H, S, S, S], tasker_begin_shutdown: [H], tasker_stop: [H, I]
    }.freeze
    # Functions added to ABI version 1 after its first release: a library
    # built before them works without them.
    OPTIONAL = { tasker_poll_step_events_indexed: [H, I, I] }.freeze
    LOCK = Mutex.new
    OK_REPLY = '{"ok":true}'

    class << self
      # The handle tasker_log tags lines with (0 = the process logger).
      attr_accessor :log_handle

      # TASKER_WORKER_LIB, else build/libtasker_worker.so of the repository
      # this gem sits in, else the loader's search path.
      def library_path
        ENV['TASKER_WORKER_LIB'] ||
          [File.expand_path('../../../../build/libtasker_worker.so', __dir__)].find { |p| File.exist?(p) } ||
          'libtasker_worker.so'
      end

      def loaded? = !@functions.nil?

      def load!(path = library_path)
        LOCK.synchronize do
          return self if @functions

          lib = Fiddle.dlopen(path)
          version = Fiddle::Function.new(lib['tasker_abi_version'], [], Fiddle::TYPE_INT).call
          raise Errors::FFIError, "#{path} speaks C ABI #{version}, this gem needs #{ABI_VERSION}" unless version == ABI_VERSION

          @free = Fiddle::Function.new(lib['tasker_free'], [P], Fiddle::TYPE_VOID)
          @functions = SIGNATURES.to_h { |name, args| [name, Fiddle::Function.new(lib[name.to_s], args, P)] }
          OPTIONAL.each do |name, args|
            @functions[name] = Fiddle::Function.new(lib[name.to_s], args, P)
          rescue Fiddle::DLError
            nil # an older library
          end
        end
        self
      rescue Fiddle::DLError => e
        raise Errors::FFIError.new("cannot load the worker library #{path}: #{e.message} (set TASKER_WORKER_LIB)",
                                   operation: 'load')
      end

      def bootstrap(config) = invoke(:tasker_worker_bootstrap, JSON.generate(config))
      def poll(handle, max_events, wait_ms) = invoke(:tasker_poll_step_events, handle, max_events, wait_ms)
      # Whether the library has tasker_poll_step_events_indexed (poll_indexed).
      def indexed? = loaded? && @functions.key?(:tasker_poll_step_events_indexed)

      # Polls with tasker_poll_step_events_indexed: [events, state], each
      # event an IndexedEvent, decoded only as far as it is read.
      def poll_indexed(handle, max_events, wait_ms)
        events, header = IndexedEvent.events_of(call_raw(:tasker_poll_step_events_indexed, handle, max_events, wait_ms))
        raise_error(header, :tasker_poll_step_events_indexed) unless header['ok']

        [events, header['state']]
      end

      def complete(handle, event_id, result_json) = invoke(:tasker_complete_step_event, handle, event_id, result_json)
      def checkpoint_yield(handle, event_id, json) = invoke(:tasker_checkpoint_yield_step_event, handle, event_id, json)
      def status(handle) = invoke(:tasker_worker_status, handle)
      def health(handle) = invoke(:tasker_health, handle)['health']
      def metrics(handle) = invoke(:tasker_metrics, handle)['text']
      def begin_shutdown(handle) = invoke(:tasker_begin_shutdown, handle)
      def stop(handle, timeout_ms) = invoke(:tasker_stop, handle, timeout_ms)

      def log(level, message, fields = nil, handle: log_handle || 0)
        invoke(:tasker_log, handle, level.to_s, message.to_s.delete("\0"), fields && !fields.empty? ? JSON.generate(fields) : nil)
      end

      private

      def invoke(name, *args)
        text = call_raw(name, *args).force_encoding(Encoding::UTF_8)
        return { 'ok' => true } if text == OK_REPLY # most replies (every completed step's): nothing to decode

        reply = JSON.parse(text)
        return reply if reply['ok']

        raise_error(reply, name)
      end

      # The reply's bytes (a binary String), the reply freed.
      def call_raw(name, *args)
        load! unless @functions
        ptr = @functions.fetch(name).call(*args)
        raise CallError.new('internal', 'the library returned NULL', name) if ptr.null?

        text = ptr.to_s
        @free.call(ptr)
        text
      end

      def raise_error(reply, name)
        error = reply['error'] || {}
        raise CallError.new(error['code'].to_s, error['message'].to_s, name)
      end
    end
  end
end
