# frozen_string_literal: true

require_relative '../shared/squaring'

# The mixed DAG as functional-DSL handlers (mixed_dag_workflow_dsl).
module MixedDagWorkflowDsl
  {
    'dag_init' => [], 'dag_process_left' => %w[dag_init_dsl], 'dag_process_right' => %w[dag_init_dsl],
    'dag_validate' => %w[dag_process_left_dsl dag_process_right_dsl], 'dag_transform' => %w[dag_process_left_dsl],
    'dag_analyze' => %w[dag_process_right_dsl], 'dag_finalize' => %w[dag_validate_dsl dag_transform_dsl dag_analyze_dsl]
  }.each do |step, parents|
    const_set(step.split('_').map(&:capitalize).join,
              SquaringExamples.dsl_handler("mixed_dag_workflow_dsl.step_handlers.#{step}", parents,
                                           verify_power: step == 'dag_finalize' ? 64 : nil))
  end
end
