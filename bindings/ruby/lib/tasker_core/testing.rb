# frozen_string_literal: true

require 'securerandom'

module TaskerCore
  # Helpers for testing handlers without a worker: build a step event in the
  # shape the worker library sends and run it through the worker's own
  # handler path.
  #
  #   result = TaskerCore::Testing.run('Orders::ChargeHandler', task_context: { 'amount' => 10 },
  #                                    dependency_results: { 'validate' => { 'ok' => true } })
  #   assert result.success?
  module Testing
    module_function

    # A step event. dependency_results maps parent step names to the values
    # those steps returned.
    def event(callable:, task_context: {}, step_name: 'step', inputs: nil, initialization: {}, method: nil, resolver: nil,
              dependency_results: {}, attempts: 0, max_attempts: 3, checkpoint: nil, namespace: 'default', timeout_seconds: 30)
      task_uuid = SecureRandom.uuid
      step_uuid = SecureRandom.uuid
      parents = dependency_results.to_h do |name, value|
        [name.to_s, { 'step_uuid' => SecureRandom.uuid, 'success' => true, 'result' => value, 'status' => 'completed', 'metadata' => {} }]
      end
      JSON.parse(JSON.generate(
                   'event_id' => SecureRandom.uuid, 'task_uuid' => task_uuid, 'step_uuid' => step_uuid,
                   'correlation_id' => SecureRandom.uuid,
                   'task_sequence_step' => {
                     'task' => { 'task' => { 'task_uuid' => task_uuid, 'context' => task_context, 'correlation_id' => SecureRandom.uuid },
                                 'task_name' => 'test', 'task_version' => '1.0.0', 'namespace_name' => namespace },
                     'workflow_step' => { 'workflow_step_uuid' => step_uuid, 'task_uuid' => task_uuid, 'name' => step_name,
                                          'template_step_name' => step_name, 'retryable' => true, 'max_attempts' => max_attempts,
                                          'attempts' => attempts, 'inputs' => inputs || initialization, 'results' => nil,
                                          'checkpoint' => checkpoint },
                     'dependency_results' => parents,
                     'step_definition' => { 'name' => step_name, 'handler' => { 'callable' => callable, 'method' => method,
                                                                                'resolver' => resolver, 'initialization' => initialization },
                                            'dependencies' => parents.keys, 'timeout_seconds' => timeout_seconds }
                   }
                 ))
    end

    # A StepContext for calling a handler instance directly.
    def context(callable: 'test', **kw) = Types::StepContext.new(event(callable: callable, **kw)['task_sequence_step'])

    # Resolves the callable (a class name, a registered name, or a handler
    # class) and runs it as the worker would; returns its StepHandlerCallResult.
    def run(callable, **kw)
      if callable.is_a?(Class)
        name = "test.#{callable.object_id}"
        Registry::HandlerRegistry.instance.register_handler(name, callable)
        callable = name
      end
      Worker::Runner.new.run_handler(event(callable: callable, **kw))
    end
  end
end
