# frozen_string_literal: true

# Bootstraps a worker (configuration from the environment), then waits 1 s in
# tasker_poll_step_events on an idle queue while another thread counts; prints
# {"waited_ms":..,"ticks":..}. Run by the Go test TestPollReleasesTheGVL.
require 'tasker_core'

ffi = TaskerCore::FFI.load!
handle = ffi.bootstrap('callables' => ['RubyE2E::SleepHandler'], 'language' => 'ruby',
                       'template_paths' => [ENV.fetch('TASKER_TEMPLATE_PATH')])['handle']
ticks = 0
counter = Thread.new { loop { ticks += 1 } }
Thread.pass until ticks.positive?
before = ticks
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
ffi.poll(handle, 1, 1000)
waited = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000).round
during = ticks - before
counter.kill
ffi.stop(handle, 1000)
puts JSON.generate('waited_ms' => waited, 'ticks' => during)
