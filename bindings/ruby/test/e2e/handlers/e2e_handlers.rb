# frozen_string_literal: true

# Handlers the Go end-to-end tests of bindings/ruby drive (templates beside
# them in ../templates).
module RubyE2E
  # Raises an exception no handler code classified: retried, then an error.
  class CrashHandler < TaskerCore::StepHandler::Base
    def call(_context) = raise(ArgumentError, 'kaput')
  end

  # Never returns: the worker's step timeout has to end the attempt.
  class HangHandler < TaskerCore::StepHandler::Base
    def call(_context)
      sleep
    end
  end

  # Sleeps sleep_ms (task context), then reports which worker ran it.
  class SleepHandler < TaskerCore::StepHandler::Base
    def call(context)
      sleep(context.get_input_or('sleep_ms', 100) / 1000.0)
      success(result: { 'slept_ms' => context.get_input_or('sleep_ms', 100), 'pid' => Process.pid })
    end
  end

  # Does nothing, quickly: for throughput and memory runs.
  class NoopHandler < TaskerCore::StepHandler::Base
    def call(context) = success(result: { 'step' => context.step_name })
  end
end
