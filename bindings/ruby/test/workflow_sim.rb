# frozen_string_literal: true

require 'yaml'

# Runs a task template's steps through the worker's handler path with
# hand-built events, standing in for the orchestration: dependency order,
# results of every ancestor, decision points creating their steps, batch
# analyzers creating workers (<template>_<batch_id> with cursor inputs),
# deferred convergence over what was created, checkpoint yields re-running
# the step with the checkpoint record, retries of retryable failures. It
# lets handlers be checked without the worker library.
class WorkflowSim
  include EventFactory

  Result = Struct.new(:status, :results, :outcomes, :attempts, :yields, keyword_init: true)

  def initialize(path, environment: 'test')
    doc = YAML.safe_load(File.read(path), aliases: true)
    @namespace = doc['namespace_name']
    @steps = doc['steps'].to_h { |s| [s['name'], s] }
    (doc.dig('environments', environment, 'steps') || []).each do |override|
      base = @steps[override['name']] or next
      @steps[override['name']] = base.merge(override) { |_k, a, b| a.is_a?(Hash) && b.is_a?(Hash) ? a.merge(b) : b }
    end
  end

  def run(context)
    @context = context
    @created = {} # step name => {template:, deps:, inputs:}
    @results = {}
    @outcomes = {}
    @attempts = Hash.new(0)
    @yields = Hash.new(0)
    @steps.each_value { |s| create(s['name'], s, s['dependencies'] || []) if initial?(s) }
    loop do
      ready = @created.keys.reject { |n| @outcomes.key?(n) }.find { |n| @created[n][:deps].all? { |d| @outcomes[d]&.success? } }
      break unless ready

      run_step(ready)
      return finish('error') if @outcomes[ready] && !@outcomes[ready].success?
    end
    finish(@created.keys.all? { |n| @outcomes[n]&.success? } ? 'complete' : 'blocked')
  end

  private

  def finish(status)
    Result.new(status: status, results: @results, outcomes: @outcomes, attempts: @attempts, yields: @yields)
  end

  def initial?(step)
    return false if %w[batch_worker deferred_convergence].include?(step['type'])

    (step['dependencies'] || []).none? { |d| @steps.dig(d, 'type') == 'decision' }
  end

  def create(name, template, deps, inputs = nil)
    @created[name] ||= { template: template, deps: deps, inputs: inputs }
  end

  def ancestors(name)
    @created[name][:deps].flat_map { |d| [d] + ancestors(d) }.uniq
  end

  def run_step(name)
    step = @created[name]
    tpl = step[:template]
    checkpoint = nil
    loop do
      event = build_event(callable: tpl.dig('handler', 'callable'), method: tpl.dig('handler', 'method'),
                          resolver: tpl.dig('handler', 'resolver'), task_context: @context, step_name: name,
                          initialization: tpl.dig('handler', 'initialization') || {}, inputs: step[:inputs],
                          dependency_results: ancestors(name).to_h { |a| [a, dependency(@results[a])] },
                          attempts: @attempts[name], max_attempts: tpl.dig('retry', 'max_attempts') || 3,
                          checkpoint: checkpoint, namespace: @namespace)
      outcome = run_event(event)
      if outcome.checkpoint?
        @yields[name] += 1
        raise "#{name}: more than 1000 checkpoint yields" if @yields[name] > 1000

        checkpoint = { 'cursor' => outcome.cursor, 'items_processed' => outcome.items_processed,
                       'accumulated_results' => JSON.parse(JSON.generate(outcome.accumulated_results)) }
        next
      end
      @attempts[name] += 1
      if !outcome.success? && outcome.retryable && @attempts[name] < (tpl.dig('retry', 'max_attempts') || 3)
        next # a retry re-reads the last checkpoint, as a re-hydrated step does
      end

      @outcomes[name] = outcome
      break
    end
    return unless @outcomes[name].success?

    @results[name] = JSON.parse(JSON.generate(@outcomes[name].result))
    expand(name, tpl, @results[name])
  end

  # Decision and batch outcomes create steps, then the convergence steps
  # over them.
  def expand(name, tpl, result)
    created = []
    if tpl['type'] == 'decision' && (outcome = result['decision_point_outcome'])
      (outcome['step_names'] || []).each { |n| create(n, @steps.fetch(n), [name]) && created << n }
    elsif tpl['type'] == 'batchable' && (outcome = result['batch_processing_outcome'])
      worker = @steps.values.find { |s| s['type'] == 'batch_worker' && (s['dependencies'] || []).include?(name) }
      configs = outcome['type'] == 'create_batches' ? outcome['cursor_configs'] : []
      configs.each do |cfg|
        create("#{worker['name']}_#{cfg['batch_id']}", worker, [name], { 'cursor' => cfg, 'batch_metadata' => {}, 'is_no_op' => false })
        created << worker['name']
      end
    end
    return if created.empty?

    @steps.each_value do |s|
      next unless s['type'] == 'deferred_convergence' && (s['dependencies'] & created).any?

      deps = s['dependencies'].flat_map { |d| @created.key?(d) ? [d] : @created.keys.select { |n| n.start_with?("#{d}_") } }
      create(s['name'], s, deps)
    end
  end
end
