# frozen_string_literal: true

module TaskerCore
  # Read-only views of a step event's task_sequence_step, with tasker-core's
  # names (context.task, context.workflow_step, ...). Hashes inside are
  # indifferent: 'key' and :key both work.
  #
  # The views read the event's hashes as they come (string keys from JSON,
  # symbol keys from hand-built events, or indifferent) and convert only
  # what they hand out, when it is first read: the hashes that are not
  # exposed themselves (the step row, the step definition and its handler)
  # are never copied, and a handler that reads two fields of the event
  # does not pay for converting all of it.
  module Models
    HWIA = HashWithIndifferentAccess

    def self.indifferent(value)
      return value if value.is_a?(HWIA)

      value.is_a?(Hash) ? HWIA.new(value) : HWIA.new
    end

    # The value of key (a Symbol) in a hash with string or symbol keys.
    def self.field(data, key)
      value = data[key.name] # a decoded event, or an indifferent hash
      return value unless value.nil? && !data.key?(key.name)

      data[key]
    end

    # value as an indifferent hash stores it: nested hashes, also inside
    # arrays, become indifferent.
    def self.deep(value)
      case value
      when HWIA then value
      when Hash then HWIA.new(value)
      when Array then value.map { |v| deep(v) }
      else value
      end
    end

    def self.hash_or_empty(value) = value.is_a?(Hash) ? value : {}

    class TaskSequenceStepWrapper
      attr_reader :task, :workflow_step, :dependency_results, :step_definition

      def initialize(step_data)
        data = Models.hash_or_empty(step_data)
        @task = TaskWrapper.new(Models.hash_or_empty(Models.field(data, :task)))
        @workflow_step = WorkflowStepWrapper.new(Models.hash_or_empty(Models.field(data, :workflow_step)))
        @dependency_results = DependencyResultsWrapper.new(Models.field(data, :dependency_results))
        @step_definition = StepDefinitionWrapper.new(Models.hash_or_empty(Models.field(data, :step_definition)))
      end

      def get_task_field(name) = @task.context[name.to_s]
      def get_dependency_result(step_name) = @dependency_results.get_result(step_name)
      def get_results(step_name) = @dependency_results.get_results(step_name)
    end

    # Readers computed on their first call and kept: a handler pays only
    # for the parts of the event it reads (a view is read by the thread
    # running its step).
    module LazyReaders
      def lazy_reader(name, &compute)
        ivar = :"@#{name}"
        define_method(name) do
          return instance_variable_get(ivar) if instance_variable_defined?(ivar)

          instance_variable_set(ivar, instance_exec(&compute))
        end
      end
    end

    class TaskWrapper
      extend LazyReaders

      def initialize(data)
        @data = data
      end

      lazy_reader(:task) { Models.indifferent(Models.field(@data, :task) || @data) }
      lazy_reader(:task_uuid) { task[:task_uuid] }
      lazy_reader(:context) { Models.indifferent(task[:context]) }
      lazy_reader(:namespace_name) { Models.deep(Models.field(@data, :namespace_name)) }
      lazy_reader(:task_name) { Models.deep(Models.field(@data, :task_name)) }
      lazy_reader(:task_version) { Models.deep(Models.field(@data, :task_version)) }

      def correlation_id = task[:correlation_id]
    end

    class WorkflowStepWrapper
      extend LazyReaders

      FIELDS = %i[workflow_step_uuid task_uuid named_step_uuid name template_step_name retryable max_attempts in_process
                  processed processed_at attempts last_attempted_at backoff_request_seconds created_at updated_at].freeze

      def initialize(data)
        @data = data
      end

      FIELDS.each { |f| lazy_reader(f) { Models.deep(Models.field(@data, f)) } }
      lazy_reader(:inputs) { Models.indifferent(Models.field(@data, :inputs)) }
      lazy_reader(:results) { Models.indifferent(Models.field(@data, :results)) }
      lazy_reader(:checkpoint) { (c = Models.field(@data, :checkpoint)) && Models.indifferent(c) }
    end

    # Parent results by step name: get_result is the parent's whole
    # StepExecutionResult, get_results the value the parent returned.
    class DependencyResultsWrapper
      def initialize(results)
        @raw = results
      end

      def get_result(step_name) = to_h[step_name]
      alias [] get_result

      def get_results(step_name)
        r = to_h[step_name]
        r.is_a?(Hash) && r.key?('result') ? r['result'] : r
      end

      def keys = to_h.keys
      def key?(step_name) = to_h.key?(step_name)
      def each_key(&) = to_h.keys.each(&)
      def to_h = @results ||= Models.indifferent(@raw)
    end

    class StepDefinitionWrapper
      extend LazyReaders

      def initialize(data)
        @data = data
      end

      lazy_reader(:name) { Models.deep(Models.field(@data, :name)) }
      lazy_reader(:description) { Models.deep(Models.field(@data, :description)) }
      lazy_reader(:handler) { HandlerWrapper.new(Models.hash_or_empty(Models.field(@data, :handler))) }
      lazy_reader(:dependencies) { Models.deep(Models.field(@data, :dependencies)) || [] }
      lazy_reader(:retry) { Models.indifferent(Models.field(@data, :retry)) }
      lazy_reader(:timeout_seconds) { Models.deep(Models.field(@data, :timeout_seconds)) }
      lazy_reader(:publishes_events) { Models.deep(Models.field(@data, :publishes_events)) || [] }
      lazy_reader(:type) { Models.deep(Models.field(@data, :type)) }
      lazy_reader(:batch_config) { Models.deep(Models.field(@data, :batch_config)) }
    end

    class HandlerWrapper
      extend LazyReaders

      def initialize(data)
        @data = data
      end

      lazy_reader(:callable) { Models.deep(Models.field(@data, :callable)) }
      lazy_reader(:initialization) { Models.indifferent(Models.field(@data, :initialization)) }
      lazy_reader(:handler_method) { Models.deep(Models.field(@data, :method)) }
      lazy_reader(:resolver) { Models.deep(Models.field(@data, :resolver)) }

      def to_definition
        Types::HandlerDefinition.new(callable: callable.to_s, initialization: initialization,
                                     handler_method: handler_method, resolver: resolver)
      end
    end
  end
end
