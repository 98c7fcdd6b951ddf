# frozen_string_literal: true

# Tasker's Ruby handler API: tasker-core's TaskerCore::StepHandler::Base,
# StepHandlerCallResult, error classes, registry and functional DSL, written
# against Ruby's standard library only. Requiring it never loads the worker
# library (libtasker_worker.so); TaskerCore::Worker::Runner does that when a
# worker starts, so it is safe to require before a forking server forks.
require 'json'
require 'time'

require_relative 'tasker_core/version'
require_relative 'tasker_core/indifferent_hash'
require_relative 'tasker_core/errors'
require_relative 'tasker_core/logger'
require_relative 'tasker_core/types'
require_relative 'tasker_core/indexed_event'
require_relative 'tasker_core/models'
require_relative 'tasker_core/step_context'
require_relative 'tasker_core/call_result'
require_relative 'tasker_core/step_handler/base'
require_relative 'tasker_core/step_handler/decision'
require_relative 'tasker_core/step_handler/batchable'
require_relative 'tasker_core/step_handler/api'
require_relative 'tasker_core/step_handler/functional'
require_relative 'tasker_core/registry'

module TaskerCore
  # tasker-core's older names for the handler base classes.
  module Handlers
    module Steps
      Base = StepHandler::Base
      Mixins = StepHandler::Mixins
      API = StepHandler::Api
      Decision = StepHandler::Decision
      Batchable = StepHandler::Batchable
    end
  end

  autoload :FFI, File.expand_path('tasker_core/ffi', __dir__)
  autoload :Worker, File.expand_path('tasker_core/worker', __dir__)
  autoload :TemplateDiscovery, File.expand_path('tasker_core/template_discovery', __dir__)
  autoload :Testing, File.expand_path('tasker_core/testing', __dir__)
end
