# frozen_string_literal: true

require 'yaml'

module TaskerCore
  # Reads the handler blocks of task templates (*.yaml, *.yml, searched
  # recursively), so a worker knows which callables it is asked to run.
  module TemplateDiscovery
    Entry = Struct.new(:definition, :file, :template, :step, keyword_init: true)

    # Every step's handler of every template under dirs (environment
    # overrides included); unreadable files are reported to on_error.
    def self.handler_entries(dirs, on_error: nil)
      template_files(dirs).flat_map do |file|
        doc = YAML.safe_load(File.read(file), aliases: true) || {}
        raise ArgumentError, 'not a mapping' unless doc.is_a?(Hash)

        name = "#{doc['namespace_name']}/#{doc['name']}:#{doc['version']}"
        sections = [doc['steps']] + (doc['environments'] || {}).values.map { |env| env.is_a?(Hash) ? env['steps'] : nil }
        sections.compact.flatten.filter_map do |step|
          handler = step.is_a?(Hash) && step['handler']
          next unless handler.is_a?(Hash) && handler['callable']

          definition = Types::HandlerDefinition.new(callable: handler['callable'].to_s, initialization: handler['initialization'] || {},
                                                    handler_method: handler['method'], resolver: handler['resolver'])
          Entry.new(definition: definition, file: file, template: name, step: step['name'])
        end
      rescue StandardError, Psych::Exception => e
        on_error&.call(file, e)
        []
      end
    end

    def self.template_files(dirs)
      Array(dirs).flat_map do |dir|
        File.file?(dir) ? [dir] : Dir.glob(File.join(dir, '**', '*.{yaml,yml}'))
      end.sort.uniq
    end
  end
end
