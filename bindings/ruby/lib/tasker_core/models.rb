# frozen_string_literal: true

module TaskerCore
  # Read-only views of a step event's task_sequence_step, with tasker-core's
  # names (context.task, context.workflow_step, ...). Hashes inside are
  # indifferent: 'key' and :key both work.
  #
  # The views read the event's hashes as they come (string keys from JSON,
  # symbol keys from hand-built events, or indifferent) and convert only
  # what they hand out: the hashes that are not exposed themselves (the
  # step row, the step definition and its handler) are not copied, which
  # saves the worker a third of converting every event.
  module Models
    HWIA = HashWithIndifferentAccess

    def self.indifferent(value)
      return value if value.is_a?(HWIA)

      value.is_a?(Hash) ? HWIA.new(value) : HWIA.new
    end

    # The value of key (a Symbol) in a hash with string or symbol keys.
    def self.field(data, key)
      return data[key] if data.is_a?(HWIA)

      data.fetch(key.name) { data[key] }
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

    class TaskWrapper
      attr_reader :task_uuid, :context, :namespace_name, :task_name, :task_version, :task

      def initialize(data)
        @task = Models.indifferent(Models.field(data, :task) || data)
        @task_uuid = @task[:task_uuid]
        @context = Models.indifferent(@task[:context])
        @namespace_name = Models.deep(Models.field(data, :namespace_name))
        @task_name = Models.deep(Models.field(data, :task_name))
        @task_version = Models.deep(Models.field(data, :task_version))
      end

      def correlation_id = @task[:correlation_id]
    end

    class WorkflowStepWrapper
      FIELDS = %i[workflow_step_uuid task_uuid named_step_uuid name template_step_name retryable max_attempts in_process
                  processed processed_at attempts last_attempted_at backoff_request_seconds created_at updated_at].freeze
      IVARS = FIELDS.to_h { |f| [:"@#{f}", f] }.freeze
      attr_reader(*FIELDS, :inputs, :results, :checkpoint)

      def initialize(data)
        IVARS.each { |ivar, key| instance_variable_set(ivar, Models.deep(Models.field(data, key))) }
        @inputs = Models.indifferent(Models.field(data, :inputs))
        @results = Models.indifferent(Models.field(data, :results))
        checkpoint = Models.field(data, :checkpoint)
        @checkpoint = checkpoint && Models.indifferent(checkpoint)
      end
    end

    # Parent results by step name: get_result is the parent's whole
    # StepExecutionResult, get_results the value the parent returned.
    class DependencyResultsWrapper
      def initialize(results)
        @results = Models.indifferent(results)
      end

      def get_result(step_name) = @results[step_name]
      alias [] get_result

      def get_results(step_name)
        r = @results[step_name]
        r.is_a?(Hash) && r.key?('result') ? r['result'] : r
      end

      def keys = @results.keys
      def key?(step_name) = @results.key?(step_name)
      def each_key(&) = @results.keys.each(&)
      def to_h = @results
    end

    class StepDefinitionWrapper
      attr_reader :name, :description, :handler, :dependencies, :retry, :timeout_seconds, :publishes_events, :type,
                  :batch_config

      def initialize(data)
        @name = Models.deep(Models.field(data, :name))
        @description = Models.deep(Models.field(data, :description))
        @handler = HandlerWrapper.new(Models.hash_or_empty(Models.field(data, :handler)))
        @dependencies = Models.deep(Models.field(data, :dependencies)) || []
        @retry = Models.indifferent(Models.field(data, :retry))
        @timeout_seconds = Models.deep(Models.field(data, :timeout_seconds))
        @publishes_events = Models.deep(Models.field(data, :publishes_events)) || []
        @type = Models.deep(Models.field(data, :type))
        @batch_config = Models.deep(Models.field(data, :batch_config))
      end
    end

    class HandlerWrapper
      attr_reader :callable, :initialization, :handler_method, :resolver

      def initialize(data)
        @callable = Models.deep(Models.field(data, :callable))
        @initialization = Models.indifferent(Models.field(data, :initialization))
        @handler_method = Models.deep(Models.field(data, :method))
        @resolver = Models.deep(Models.field(data, :resolver))
      end

      def to_definition
        Types::HandlerDefinition.new(callable: callable.to_s, initialization: initialization,
                                     handler_method: handler_method, resolver: resolver)
      end
    end
  end
end
