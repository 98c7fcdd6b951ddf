# frozen_string_literal: true

module TaskerCore
  # A step event from the library's indexed poll, decoded part by part.
  #
  # tasker_poll_step_events_indexed answers with a header line (for each
  # event, an array of its ids, handler, step name, attempts and the byte
  # ranges of its parts; bindings/capi/include/tasker_worker.h) and then
  # the events' JSON. An IndexedEvent keeps that text and decodes a part
  # (the task context, the dependency results, the step row...) only when
  # something reads it, and the whole event only when a handler reads
  # context.event: most handlers read one or two small parts, and decoding
  # JSON is most of what a step costs the interpreter (docs/benchmarks.md).
  #
  # Every part is decoded at most once and is the same object wherever it
  # is read: a part decoded before its enclosing part (or the whole event)
  # is put into it, and one decoded after it is taken from it.
  class IndexedEvent
    EVENT, TASK, CONTEXT, WORKFLOW_STEP, INPUTS, CHECKPOINT, DEPENDENCY_RESULTS, STEP_DEFINITION, INITIALIZATION = (0..8).to_a.freeze
    # Where each part sits in the event, in the order the library lists the spans.
    PATHS = ['', 'task', 'task task context', 'workflow_step', 'workflow_step inputs', 'workflow_step checkpoint', 'dependency_results',
             'step_definition', 'step_definition handler initialization'].map { |p| p.empty? ? [] : ['task_sequence_step', *p.split] }.freeze
    # For each part: the parts enclosing it, innermost first; the parts inside it, outermost first.
    ENCLOSING = PATHS.map { |path| PATHS.each_index.select { |j| PATHS[j] != path && path[0, PATHS[j].size] == PATHS[j] }.sort_by { |j| -PATHS[j].size } }
    INSIDE = PATHS.each_index.map { |k| PATHS.each_index.select { |j| ENCLOSING[j].include?(k) }.sort_by { |j| PATHS[j].size } }

    attr_reader :event_id, :task_uuid, :step_uuid, :correlation_id, :callable, :handler_method, :resolver, :timeout_seconds,
                :step_name, :attempts, :max_attempts

    # The events of an indexed poll reply (bytes) and its header ("ok",
    # "state", or the error of a failed call).
    def self.events_of(raw)
      raw = raw.b unless raw.encoding == Encoding::BINARY # byte offsets
      nl = raw.index("\n")
      header = decode(nl ? raw.byteslice(0, nl) : raw.dup)
      [nl && header['ok'] ? header['events'].map { |entry| new(entry, raw, nl + 1) } : [], header]
    end

    # Decodes JSON text the library wrote (an unfrozen String of its bytes).
    def self.decode(text) = JSON::Parser.new(text.force_encoding(Encoding::UTF_8)).parse

    def initialize(entry, raw, base)
      @event_id, @task_uuid, @step_uuid, @correlation_id, @callable, @handler_method, @resolver, @timeout_seconds, @step_name,
        @attempts, @max_attempts, @spans = entry
      @raw = raw
      @base = base
      @parts = {}
    end

    # The decoded value of part k (CONTEXT, DEPENDENCY_RESULTS...).
    def part(k)
      return @parts[k] if @parts.key?(k)

      outer = ENCLOSING[k].find { |j| @parts.key?(j) }
      value = outer && IndexedEvent.dig(@parts[outer], PATHS[k].drop(PATHS[outer].size))
      if value.nil? || value.equal?(MISSING) # nothing decoded holds it (or a handler changed what did)
        value = IndexedEvent.decode(@raw.byteslice(@base + @spans[2 * k], @spans[(2 * k) + 1] - @spans[2 * k]))
        INSIDE[k].each do |j|
          holder = @parts.key?(j) && IndexedEvent.dig(value, PATHS[j][PATHS[k].size...-1])
          holder[PATHS[j].last] = @parts[j] if holder.is_a?(Hash) && holder.key?(PATHS[j].last)
        end
      end
      @parts[k] = value
    end

    # Whether part k (or a part holding it) has been decoded.
    def decoded?(k) = @parts.key?(k) || ENCLOSING[k].any? { |j| @parts.key?(j) }

    # The whole event, as tasker_poll_step_events hands it over.
    def to_h = part(EVENT)

    # The event's fields the header holds, by key, and their variables.
    HEADER_FIELDS = %w[event_id step_uuid task_uuid correlation_id].to_h { |k| [k, :"@#{k}"] }.freeze

    # A field of the event: the header's ids without decoding anything.
    def [](key) = (ivar = HEADER_FIELDS[key]) ? instance_variable_get(ivar) : to_h[key]

    def inspect = "#<TaskerCore::IndexedEvent event_id=#{@event_id} step_uuid=#{@step_uuid} callable=#{@callable}>"

    MISSING = Object.new.freeze

    def self.dig(value, path) = path.reduce(value) { |v, key| v.is_a?(Hash) && v.key?(key) ? v[key] : (return MISSING) }
  end
end
