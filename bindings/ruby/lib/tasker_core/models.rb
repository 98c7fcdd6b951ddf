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

      # step_data: the event's task_sequence_step (a Hash), or an
      # IndexedEvent, whose parts the views decode when first read.
      def initialize(step_data)
        indexed = step_data if step_data.is_a?(IndexedEvent)
        data = Models.hash_or_empty(step_data) unless indexed
        part = ->(key) { indexed ? nil : Models.hash_or_empty(Models.field(data, key)) }
        @task = TaskWrapper.new(part[:task], indexed)
        @workflow_step = WorkflowStepWrapper.new(part[:workflow_step], indexed)
        @dependency_results = DependencyResultsWrapper.new(indexed ? nil : Models.field(data, :dependency_results), indexed)
        @step_definition = StepDefinitionWrapper.new(part[:step_definition], indexed)
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

      # Lazy readers of plain fields of the view's hash (data).
      def field_readers(*names)
        names.each { |f| lazy_reader(f) { Models.deep(Models.field(data, f)) } }
      end
    end

    # The views of an IndexedEvent's parts: data is the part, decoded when
    # first read (the views of hashes are made with indexed nil).
    module IndexedData
      def initialize(data, indexed = nil)
        @data = data
        @indexed = indexed
      end

      private

      def data = @data ||= Models.hash_or_empty(@indexed.part(self.class::PART))

      # Whether the view can read a part inside its own without decoding
      # its own (not yet decoded).
      def inner_first? = @indexed && @data.nil? && !@indexed.decoded?(self.class::PART)
    end

    class TaskWrapper
      extend LazyReaders
      include IndexedData
      PART = IndexedEvent::TASK

      # task is the task row (context included: the same object as #context).
      lazy_reader(:task) do
        row = Models.indifferent(Models.field(data, :task) || data)
        row['context'] = @context if instance_variable_defined?(:@context) && row.key?('context')
        row
      end
      lazy_reader(:task_uuid) { task[:task_uuid] }
      lazy_reader(:context) do
        next Models.indifferent(@indexed.part(IndexedEvent::CONTEXT)) if inner_first? && !instance_variable_defined?(:@task)

        Models.indifferent(task[:context])
      end
      field_readers :namespace_name, :task_name, :task_version

      def correlation_id = task[:correlation_id]
    end

    class WorkflowStepWrapper
      extend LazyReaders
      include IndexedData
      PART = IndexedEvent::WORKFLOW_STEP

      FIELDS = %i[workflow_step_uuid task_uuid named_step_uuid name template_step_name retryable max_attempts in_process
                  processed processed_at attempts last_attempted_at backoff_request_seconds created_at updated_at].freeze
      # Fields an indexed poll's header repeats.
      HEADER = { name: :step_name, attempts: :attempts, max_attempts: :max_attempts }.freeze

      FIELDS.each do |f|
        header = HEADER[f]
        lazy_reader(f) { header && inner_first? ? @indexed.public_send(header) : Models.deep(Models.field(data, f)) }
      end
      lazy_reader(:inputs) { Models.indifferent(inner_first? ? @indexed.part(IndexedEvent::INPUTS) : Models.field(data, :inputs)) }
      lazy_reader(:results) { Models.indifferent(Models.field(data, :results)) }
      lazy_reader(:checkpoint) do
        c = inner_first? ? @indexed.part(IndexedEvent::CHECKPOINT) : Models.field(data, :checkpoint)
        c && Models.indifferent(c)
      end
    end

    # Parent results by step name: get_result is the parent's whole
    # StepExecutionResult, get_results the value the parent returned.
    class DependencyResultsWrapper
      include IndexedData

      def get_result(step_name) = to_h[step_name]
      alias [] get_result

      def get_results(step_name)
        r = to_h[step_name]
        r.is_a?(Hash) && r.key?('result') ? r['result'] : r
      end

      def keys = to_h.keys
      def key?(step_name) = to_h.key?(step_name)
      def each_key(&) = to_h.keys.each(&)
      def to_h = @results ||= Models.indifferent(@indexed ? @indexed.part(IndexedEvent::DEPENDENCY_RESULTS) : @data)
    end

    class StepDefinitionWrapper
      extend LazyReaders
      include IndexedData
      PART = IndexedEvent::STEP_DEFINITION

      field_readers :name, :description, :type, :batch_config
      lazy_reader(:handler) do
        next HandlerWrapper.new(nil, @indexed) if inner_first?

        HandlerWrapper.new(Models.hash_or_empty(Models.field(data, :handler)))
      end
      lazy_reader(:dependencies) { Models.deep(Models.field(data, :dependencies)) || [] }
      lazy_reader(:retry) { Models.indifferent(Models.field(data, :retry)) }
      lazy_reader(:timeout_seconds) { inner_first? ? @indexed.timeout_seconds : Models.deep(Models.field(data, :timeout_seconds)) }
      lazy_reader(:publishes_events) { Models.deep(Models.field(data, :publishes_events)) || [] }
    end

    # handler of a step definition. Made from an IndexedEvent (before the
    # definition is decoded), it reads the header's callable, method and
    # resolver and decodes only the initialization.
    class HandlerWrapper
      extend LazyReaders
      include IndexedData

      lazy_reader(:callable) { @indexed ? @indexed.callable : Models.deep(Models.field(@data, :callable)) }
      lazy_reader(:initialization) do
        Models.indifferent(@indexed ? @indexed.part(IndexedEvent::INITIALIZATION) : Models.field(@data, :initialization))
      end
      lazy_reader(:handler_method) { @indexed ? @indexed.handler_method : Models.deep(Models.field(@data, :method)) }
      lazy_reader(:resolver) { @indexed ? @indexed.resolver : Models.deep(Models.field(@data, :resolver)) }

      def to_definition
        Types::HandlerDefinition.new(callable: callable.to_s, initialization: initialization,
                                     handler_method: handler_method, resolver: resolver)
      end
    end
  end
end
