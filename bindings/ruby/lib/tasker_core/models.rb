# frozen_string_literal: true

module TaskerCore
  # Read-only views of a step event's task_sequence_step, with tasker-core's
  # names (context.task, context.workflow_step, ...). Hashes inside are
  # indifferent: 'key' and :key both work.
  module Models
    HWIA = HashWithIndifferentAccess

    def self.indifferent(value)
      return value if value.is_a?(HWIA)

      value.is_a?(Hash) ? HWIA.new(value) : HWIA.new
    end

    class TaskSequenceStepWrapper
      attr_reader :task, :workflow_step, :dependency_results, :step_definition

      def initialize(step_data)
        data = step_data.is_a?(HWIA) ? step_data : Models.indifferent(step_data)
        @task = TaskWrapper.new(data[:task] || {})
        @workflow_step = WorkflowStepWrapper.new(data[:workflow_step] || {})
        @dependency_results = DependencyResultsWrapper.new(data[:dependency_results])
        @step_definition = StepDefinitionWrapper.new(data[:step_definition] || {})
      end

      def get_task_field(name) = @task.context[name.to_s]
      def get_dependency_result(step_name) = @dependency_results.get_result(step_name)
      def get_results(step_name) = @dependency_results.get_results(step_name)
    end

    class TaskWrapper
      attr_reader :task_uuid, :context, :namespace_name, :task_name, :task_version, :task

      def initialize(data)
        @task = Models.indifferent(data[:task] || data)
        @task_uuid = @task[:task_uuid]
        @context = Models.indifferent(@task[:context])
        @namespace_name = data[:namespace_name]
        @task_name = data[:task_name]
        @task_version = data[:task_version]
      end

      def correlation_id = @task[:correlation_id]
    end

    class WorkflowStepWrapper
      FIELDS = %i[workflow_step_uuid task_uuid named_step_uuid name template_step_name retryable max_attempts in_process
                  processed processed_at attempts last_attempted_at backoff_request_seconds created_at updated_at].freeze
      IVARS = FIELDS.to_h { |f| [:"@#{f}", f.name] }.freeze
      attr_reader(*FIELDS, :inputs, :results, :checkpoint)

      def initialize(data)
        IVARS.each { |ivar, key| instance_variable_set(ivar, data[key]) }
        @inputs = Models.indifferent(data[:inputs])
        @results = Models.indifferent(data[:results])
        @checkpoint = data[:checkpoint] && Models.indifferent(data[:checkpoint])
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
        @name = data[:name]
        @description = data[:description]
        @handler = HandlerWrapper.new(data[:handler] || {})
        @dependencies = data[:dependencies] || []
        @retry = Models.indifferent(data[:retry])
        @timeout_seconds = data[:timeout_seconds]
        @publishes_events = data[:publishes_events] || []
        @type = data[:type]
        @batch_config = data[:batch_config]
      end
    end

    class HandlerWrapper
      attr_reader :callable, :initialization, :handler_method, :resolver

      def initialize(data)
        @callable = data[:callable]
        @initialization = Models.indifferent(data[:initialization])
        @handler_method = data[:method]
        @resolver = data[:resolver]
      end

      def to_definition
        Types::HandlerDefinition.new(callable: callable.to_s, initialization: initialization,
                                     handler_method: handler_method, resolver: resolver)
      end
    end
  end
end
