# frozen_string_literal: true

module TaskerCore
  # Runs Ruby handlers for the Go worker living in this process (loaded
  # from libtasker_worker through the C ABI). The Go side claims steps,
  # times them out, retries, recovers claims and commits results; this side
  # only polls step events, runs handlers on a bounded pool of threads and
  # hands back results.
  module Worker
    # One worker: load handlers, bootstrap with the callables it can run,
    # poll and run, stop. Used by bin/tasker-worker-ruby; embed it (after a
    # forking server forks) with Runner.new(...).start and #stop.
    class Runner
      attr_reader :handle, :worker_id, :callables, :unresolved, :concurrency

      # handler_dirs: every .rb under them is required (sorted). template_dirs:
      # the templates whose callables this worker resolves and serves.
      # concurrency: handler threads (also the Go side's max in-flight steps).
      # environment, namespaces, worker_id, database_url, config_root,
      # overrides: the bootstrap configuration of the C ABI. hung_grace:
      # seconds past a step's timeout after which a still-running handler's
      # thread is replaced. poll_spin_us: how long a blocked poll keeps its
      # thread checking for a step before it sleeps (0: it sleeps at once).
      def initialize(handler_dirs: [], template_dirs: [], concurrency: 8, environment: nil, namespaces: nil, worker_id: nil,
                     database_url: nil, config_root: nil, overrides: {}, shutdown_timeout: 4.0, poll_wait_ms: 500, hung_grace: 30,
                     poll_spin_us: 0,
                     registry: Registry::HandlerRegistry.instance, ffi: TaskerCore::FFI, logger: TaskerCore::Logger.instance)
        raise ArgumentError, "concurrency must be 1..1000, got #{concurrency.inspect}" unless concurrency.is_a?(Integer) && concurrency.between?(1, 1000)

        @handler_dirs = Array(handler_dirs)
        @template_dirs = Array(template_dirs)
        @concurrency = concurrency
        @config = { 'language' => 'ruby', 'environment' => environment, 'namespaces' => namespaces, 'worker_id' => worker_id,
                    'database_url' => database_url, 'config_root' => config_root,
                    'poll_spin_us' => poll_spin_us.positive? ? poll_spin_us : nil }.compact
        @overrides = overrides || {}
        @shutdown_timeout = shutdown_timeout
        @poll_wait_ms = poll_wait_ms
        @hung_grace = hung_grace
        @registry = registry
        @ffi = ffi
        @logger = logger
        @lock = Mutex.new
        @ended = ConditionVariable.new
        @running = {} # handler thread => time after which its step is given up
        @polling = {} # handler threads still polling (a hung one is dropped when replaced)
      end

      # Requires the handler files and works out which template callables
      # resolve. Returns the callables.
      def load_handlers
        @handler_dirs.each do |dir|
          raise Errors::ConfigurationError, "handler directory #{dir} does not exist" unless File.directory?(dir)

          Dir.glob(File.join(File.expand_path(dir), '**', '*.rb')).sort.each { |file| require file }
        end
        @registry.register_named_handlers
        resolve_template_callables
      end

      # Loads handlers, bootstraps the Go worker and starts polling.
      def start(&on_exit)
        load_handlers if @callables.nil?
        if @callables.empty?
          raise Errors::ConfigurationError, "no template callable resolves to a loaded handler (templates: #{@template_dirs.join(', ')}; " \
                                            "handlers: #{@handler_dirs.join(', ')}; unresolved: #{@unresolved.first(10).join(', ')})"
        end
        @ffi.load!
        reply = @ffi.bootstrap(@config.merge('callables' => @callables, 'template_paths' => @template_dirs.map { |d| File.expand_path(d) },
                                             'overrides' => deep_merge(capacity_overrides, @overrides)))
        @handle = reply.fetch('handle')
        @worker_id = reply['worker_id']
        @ffi.log_handle = @handle
        @on_exit = on_exit
        @lock.synchronize { @concurrency.times { start_handler_thread } }
        @watchdog = Thread.new { watchdog_loop }
        @logger.info("ruby worker #{@worker_id} serving #{@callables.size} callables with #{@concurrency} threads")
        self
      end

      # start, then wait for SIGTERM or SIGINT and stop. Returns the exit
      # status: 0 after a signal, 1 if the worker stopped by itself.
      def run
        reader, writer = IO.pipe
        %w[TERM INT].each { |sig| Signal.trap(sig) { writer.write_nonblock(sig[0]) rescue nil } } # rubocop:disable Style/RescueModifier
        start { writer.write_nonblock('x') rescue nil } # rubocop:disable Style/RescueModifier
        yield self if block_given?
        IO.select([reader])
        return 1 if reader.read_nonblock(1) == 'x'

        @logger.info('signal received: stopping (running handlers get the shutdown budget)')
        stop
        0
      end

      # Stops claiming, gives running handlers up to timeout seconds, lets
      # the Go side release what did not finish, and returns.
      def stop(timeout = @shutdown_timeout)
        handle = @lock.synchronize { @stopping ? nil : (@stopping = true) && @handle }
        return unless handle

        begin
          @ffi.stop(handle, (timeout * 1000).to_i)
        rescue FFI::CallError => e
          @logger.warn("stopping the worker: #{e.message}") unless e.code == 'unknown_handle'
        end
        @ffi.log_handle = 0 # the process log: the handle is gone
        wait(1)
      end

      # Blocks until every handler thread has stopped polling (after stop,
      # or when the library reports the worker stopped), at most timeout
      # seconds when given. Returns true when they have.
      def wait(timeout = nil)
        deadline = timeout && (Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout)
        @lock.synchronize do
          until @polling.empty?
            left = deadline && (deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC))
            return false if left && left <= 0

            @ended.wait(@lock, left)
          end
        end
        true
      end

      def status = @ffi.status(@handle)

      # Runs the handler of one step event; returns its StepHandlerCallResult
      # (a raised exception becomes a failure). The domain events the
      # handler publishes are appended to events.
      def run_handler(event, events = [])
        step = Models::TaskSequenceStepWrapper.new(event.is_a?(IndexedEvent) ? event : event['task_sequence_step'] || {})
        handler = @registry.resolve_handler(step.step_definition.handler)
        raise Errors::ConfigurationError, "No handler found for #{step.step_definition.handler.callable}" unless handler

        context = Types::StepContext.new(step, event: event, published_events: events)
        Types::StepHandlerCallResult.from_handler_output(handler.call(context))
      rescue StandardError, ScriptError, SystemStackError => e
        Types::StepHandlerCallResult.from_exception(e)
      end

      private

      def capacity_overrides
        { 'worker' => { 'handlers' => { 'max_concurrent' => @concurrency, 'min_concurrent' => @concurrency } } }
      end

      def deep_merge(a, b) = a.merge(b) { |_k, x, y| x.is_a?(Hash) && y.is_a?(Hash) ? deep_merge(x, y) : y }

      def resolve_template_callables
        entries = TemplateDiscovery.handler_entries(@template_dirs, on_error: lambda { |file, e|
          @logger.warn("cannot read template #{file}: #{e.class}: #{e.message}")
        })
        ok, bad = entries.partition do |entry|
          @registry.resolve_handler(entry.definition)
        rescue StandardError, ScriptError => e
          @logger.warn("#{entry.file} step #{entry.step}: #{entry.definition.callable}: #{e.class}: #{e.message}")
          false
        end
        @callables = ok.map { |e| e.definition.callable }.uniq.sort
        @unresolved = (bad.map { |e| e.definition.callable }.uniq - @callables).sort
        # The library claims only the steps of the declared callables, so the
        # others are left to workers (Go, Python, ...) that have them.
        @unresolved.each { |c| @logger.info("no Ruby handler for #{c}; its steps are left to other workers") }
        @callables
      end

      # Each handler thread polls for one event and runs it itself: the step
      # goes from the library's poll straight to its handler, with no
      # hand-off to another thread (a thread wake-up costs ~0.1 ms, and
      # several on a busy machine). The library wakes exactly one waiting
      # poll per step. Called with @lock held.
      def start_handler_thread
        thread = Thread.new { handler_loop }
        @polling[thread] = true
      end

      def handler_loop
        indexed = @ffi.respond_to?(:indexed?) && @ffi.indexed?
        loop do
          events, state = poll_once(indexed)
          event = events.first
          break if event.nil? && state == 'stopped'
          next unless event
          break if run_event(event) == :abandoned
        rescue FFI::CallError => e
          break if %w[unknown_handle not_running].include?(e.code)

          @logger.error("polling step events: #{e.message}")
          sleep 0.1
        end
      ensure
        last = @lock.synchronize do
          @polling.delete(Thread.current)
          @ended.broadcast
          @polling.empty? && !@exited && (@exited = true)
        end
        @on_exit&.call if last
      end

      # Polls for one event: with the indexed poll when the library has it
      # (each event decoded only as far as its handler reads it). Returns
      # [events, state].
      def poll_once(indexed)
        return @ffi.poll_indexed(@handle, 1, @poll_wait_ms) if indexed

        reply = @ffi.poll(@handle, 1, @poll_wait_ms)
        [reply['events'] || [], reply['state']]
      end

      # Runs one event; returns :abandoned when the watchdog gave this
      # thread up meanwhile (another thread has taken its place).
      def run_event(event)
        timeout = (event.is_a?(IndexedEvent) ? event.timeout_seconds : event.dig('task_sequence_step', 'step_definition', 'timeout_seconds')) || 30
        @lock.synchronize { @running[Thread.current] = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout + @hung_grace }
        begin
          execute(event)
        rescue StandardError => e
          @logger.error("running step #{event['step_uuid']}: #{e.class}: #{e.message}")
        ensure
          gone = @lock.synchronize { !@running.delete(Thread.current) }
        end
        gone ? :abandoned : :done
      end

      def watchdog_loop
        @lock.synchronize do
          until @polling.empty?
            replace_hung_handlers
            @ended.wait(@lock, [@hung_grace / 2.0, 0.05].max.clamp(0.05, 1.0))
          end
        end
      end

      # A handler still running long after its step's timeout keeps its
      # thread, but the pool gets a new polling thread in its place so the
      # worker keeps its capacity (the Go side has already timed the step
      # out). Called with @lock held.
      def replace_hung_handlers
        now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        @running.select { |_, deadline| deadline < now }.each_key do |thread|
          @running.delete(thread)
          @logger.warn("a handler outlived its step's timeout; its thread is left behind and replaced")
          @polling.delete(thread) # it stops polling when (if) its handler returns
          start_handler_thread
        end
      end

      def execute(event)
        t = Thread.current
        t[:task_uuid], t[:step_uuid], t[:correlation_id] = event['task_uuid'], event['step_uuid'], event['correlation_id']
        started_at = Clock.now_us
        clock = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        events = []
        outcome = run_handler(event, events)
        elapsed_ms = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - clock) * 1000).round
        if outcome.checkpoint?
          yield_checkpoint(event, outcome, started_at, elapsed_ms)
        else
          complete(event, StepResult.payload(outcome, event['step_uuid'], @worker_id, started_at, elapsed_ms, events))
        end
      ensure
        t[:task_uuid] = t[:step_uuid] = t[:correlation_id] = nil
      end

      def complete(event, payload)
        json = begin
          JSON.generate(payload)
        rescue JSON::GeneratorError, EncodingError => e
          failed = Types::StepHandlerCallResult.error(message: "the handler's result cannot be sent as JSON: #{e.message}",
                                                      error_type: 'invalid_result', retryable: false)
          JSON.generate(StepResult.payload(failed, event['step_uuid'], @worker_id, Clock.now_us, 0))
        end
        @ffi.complete(@handle, event['event_id'], json)
      rescue FFI::CallError => e
        report_call_error(event, e)
      end

      def yield_checkpoint(event, outcome, started_at, elapsed_ms)
        data = { cursor: outcome.cursor, items_processed: outcome.items_processed, accumulated_results: outcome.accumulated_results }
        @ffi.checkpoint_yield(@handle, event['event_id'], JSON.generate(data))
      rescue FFI::CallError, JSON::GeneratorError, EncodingError => e
        return report_call_error(event, e) if e.is_a?(FFI::CallError) && e.code == 'unknown_event'

        failed = Types::StepHandlerCallResult.error(message: "checkpoint yield failed: #{e.message}", error_type: 'checkpoint_error',
                                                    retryable: true)
        complete(event, StepResult.payload(failed, event['step_uuid'], @worker_id, started_at, elapsed_ms))
      end

      def report_call_error(event, error)
        if error.code == 'unknown_event'
          @logger.warn("result for step #{event['step_uuid']} not taken: the step timed out or the worker is stopping")
        else
          @logger.error("reporting step #{event['step_uuid']}: #{error.message}")
        end
      end
    end

    # Wall-clock timestamps of results: microseconds since the epoch, written
    # as Time#utc.iso8601(6) writes them, the date and time of day formatted
    # once per second (Time.now.utc.iso8601(6) is ~20k instructions, and a
    # result carries two).
    module Clock
      @second = [nil, nil] # the last second formatted, and its text

      def self.now_us = Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)

      def self.iso8601(us)
        sec, frac = us.divmod(1_000_000)
        cached, text = @second
        unless cached == sec
          text = Time.at(sec).utc.strftime('%Y-%m-%dT%H:%M:%S.')
          @second = [sec, text]
        end
        frac = frac.to_s
        "#{text}#{'0' * (6 - frac.size)}#{frac}Z"
      end
    end

    # The StepExecutionResult JSON the worker library reads.
    module StepResult
      MAX_BACKTRACE = 50

      def self.payload(outcome, step_uuid, worker_id, started_at, elapsed_ms, events = [])
        result_body(outcome, step_uuid, worker_id, started_at, elapsed_ms).tap do |body|
          body[:domain_events] = events unless events.nil? || events.empty?
        end
      end

      def self.result_body(outcome, step_uuid, worker_id, started_at, elapsed_ms)
        started_at = started_at.is_a?(Time) ? started_at.utc.iso8601(6) : Clock.iso8601(started_at)
        meta = { execution_time_ms: elapsed_ms, worker_id: worker_id, started_at: started_at,
                 completed_at: Clock.iso8601(Clock.now_us) }
        if outcome.success?
          return { step_uuid: step_uuid, success: true, status: 'completed', result: outcome.result,
                   metadata: meta.merge(retryable: false, custom: outcome.metadata || {}) }
        end

        custom = outcome.metadata || {}
        context = custom[:context] || custom['context']
        retry_after = outcome.retry_after || custom[:retry_after] || custom['retry_after']
        error = { message: outcome.message, error_type: outcome.error_type, retryable: outcome.retryable,
                  backtrace: outcome.backtrace&.first(MAX_BACKTRACE), context: context.is_a?(Hash) ? context : {} }
        payload = { step_uuid: step_uuid, success: false, status: 'error', result: nil, error: error,
                    metadata: meta.merge(retryable: outcome.retryable, error_type: outcome.error_type, error_code: outcome.error_code,
                                         custom: custom) }
        if retry_after.is_a?(Numeric) && retry_after >= 0
          payload[:orchestration_metadata] = { backoff_hint: { backoff_type: 'ServerRequested', delay_seconds: retry_after.ceil } }
        end
        payload
      end
    end
  end
end
