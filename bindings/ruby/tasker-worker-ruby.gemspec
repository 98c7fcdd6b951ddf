# frozen_string_literal: true

require_relative 'lib/tasker_core/version'

Gem::Specification.new do |spec|
  spec.name = 'tasker-worker-ruby'
  spec.version = TaskerCore::VERSION
  spec.summary = "Ruby step handlers for Tasker: tasker-core's handler API over the Go worker's C ABI"
  spec.description = 'TaskerCore::StepHandler::Base, StepHandlerCallResult, the error classes, the registry and the ' \
                     'functional DSL, and tasker-worker-ruby, which runs them on libtasker_worker. Standard library only.'
  spec.license = 'MIT'
  spec.authors = ['Tasker for Go']
  spec.required_ruby_version = '>= 3.1'
  spec.files = Dir['lib/**/*.rb'] + Dir['bin/*'] + ['README.md']
  spec.bindir = 'bin'
  spec.executables = ['tasker-worker-ruby']
  spec.require_paths = ['lib']
  spec.metadata['rubygems_mfa_required'] = 'true'
end
