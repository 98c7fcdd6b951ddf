# frozen_string_literal: true

require_relative '../shared/squaring'

# The tree as functional-DSL handlers (tree_workflow_dsl).
module TreeWorkflowDsl
  {
    'tree_root' => [], 'tree_branch_left' => %w[tree_root_dsl], 'tree_branch_right' => %w[tree_root_dsl],
    'tree_leaf_d' => %w[tree_branch_left_dsl], 'tree_leaf_e' => %w[tree_branch_left_dsl],
    'tree_leaf_f' => %w[tree_branch_right_dsl], 'tree_leaf_g' => %w[tree_branch_right_dsl],
    'tree_final_convergence' => %w[tree_leaf_d_dsl tree_leaf_e_dsl tree_leaf_f_dsl tree_leaf_g_dsl]
  }.each do |step, parents|
    const_set(step.split('_').map(&:capitalize).join,
              SquaringExamples.dsl_handler("tree_workflow_dsl.step_handlers.#{step}", parents,
                                           verify_power: step == 'tree_final_convergence' ? 32 : nil))
  end
end
