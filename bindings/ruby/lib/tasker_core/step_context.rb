# frozen_string_literal: true

module TaskerCore
  module Types
    # What a handler's call(context) receives, with tasker-core's accessors.
    # input_data / step_inputs are the step's inputs (workflow_step.inputs),
    # get_input reads the task context, step_config is the template's
    # handler.initialization.
    class StepContext
      attr_reader :task, :workflow_step, :dependency_results, :step_definition, :handler_name, :published_events

      # step_data: a task_sequence_step (Hash), a Models::TaskSequenceStepWrapper
      # or an IndexedEvent. event: the step event (a Hash or an IndexedEvent).
      # published_events collects what publish_event publishes (the worker
      # passes its own array to send them with the result).
      def initialize(step_data, handler_name: nil, event: nil, published_events: nil)
        wrapper = step_data.is_a?(Models::TaskSequenceStepWrapper) ? step_data : Models::TaskSequenceStepWrapper.new(step_data)
        @task = wrapper.task
        @workflow_step = wrapper.workflow_step
        @dependency_results = wrapper.dependency_results
        @step_definition = wrapper.step_definition
        @handler_name = handler_name || @step_definition.handler.callable
        @event = event
        @published_events = published_events || []
      end

      # Publishes the domain event name (declared in the step's
      # publishes_events) with payload (a JSON-encodable value). The event
      # is sent with the step's result and published when orchestration
      # commits that result, if the declaration's condition matches the
      # outcome; events published before an exception are kept (so a
      # failure event can be published and then raised). The worker checks
      # the name and the payload against the declaration when the result is
      # reported: a bad one fails the step as invalid_result, naming it.
      def publish_event(name, payload = {})
        raise ArgumentError, "event name must be a non-empty String, got #{name.inspect}" unless name.is_a?(String) && !name.empty?

        @published_events << { event_name: name, payload: payload.nil? ? {} : payload }
        nil
      end

      # The step event as the library hands it over (a Hash; from an
      # indexed poll, decoded when first read).
      def event = @event.is_a?(IndexedEvent) ? @event.to_h : @event

      def task_uuid = @task.task_uuid
      def step_uuid = @workflow_step.workflow_step_uuid
      def step_name = @workflow_step.name
      def namespace_name = @task.namespace_name
      def context = @task.context
      def correlation_id = @event&.[]('correlation_id') || @task.correlation_id
      def input_data = @workflow_step.inputs
      alias step_inputs input_data
      def step_config = @step_definition.handler.initialization
      def retry_count = @workflow_step.attempts || 0
      def max_retries = @workflow_step.max_attempts || 3
      def retryable? = @workflow_step.retryable

      def get_task_field(name) = context[name.to_s]
      alias get_input get_task_field

      def get_input_or(name, default = nil)
        value = get_task_field(name)
        value.nil? ? default : value
      end

      def get_config(key) = step_config[key.to_s]
      def get_dependency_result(step_name) = @dependency_results.get_results(step_name)

      def get_dependency_field(step_name, *path)
        result = get_dependency_result(step_name)
        result&.dig(*path.map { |p| p.is_a?(Symbol) ? p.to_s : p })
      end

      # rubocop:disable Naming/PredicateName
      def is_retry? = retry_count.positive?
      def is_last_retry? = retry_count >= max_retries - 1
      def has_checkpoint? = !checkpoint_cursor.nil?
      # rubocop:enable Naming/PredicateName

      def checkpoint = @workflow_step.checkpoint
      def checkpoint_cursor = checkpoint&.dig('cursor')
      def checkpoint_items_processed = checkpoint&.dig('items_processed') || 0
      def accumulated_results = checkpoint&.dig('accumulated_results')

      def to_s = "#<StepContext task_uuid=#{task_uuid} step_uuid=#{step_uuid} step_name=#{step_name}>"
      alias inspect to_s
    end
  end
end
