# frozen_string_literal: true

require_relative '../shared/squaring'

# Serves the native Go worker's example templates (examples_linear,
# examples_diamond, examples_dag, examples_tree: the ones `tasker bench`
# runs) from Ruby: their callables are registered explicitly, each to a
# handler squaring the product of its parents' results.
module NativeExamples
  PARENTS = {
    'linear_workflow' => { 'LinearStep1Handler' => [], 'LinearStep2Handler' => %w[linear_step_1],
                           'LinearStep3Handler' => %w[linear_step_2], 'LinearStep4Handler' => %w[linear_step_3] },
    'diamond_workflow' => { 'DiamondStartHandler' => [], 'DiamondBranchBHandler' => %w[diamond_start],
                            'DiamondBranchCHandler' => %w[diamond_start], 'DiamondEndHandler' => %w[diamond_branch_b diamond_branch_c] },
    'mixed_dag_workflow' => { 'DagInitHandler' => [], 'DagProcessLeftHandler' => %w[dag_init], 'DagProcessRightHandler' => %w[dag_init],
                              'DagValidateHandler' => %w[dag_process_left dag_process_right], 'DagTransformHandler' => %w[dag_process_left],
                              'DagAnalyzeHandler' => %w[dag_process_right],
                              'DagFinalizeHandler' => %w[dag_validate dag_transform dag_analyze] },
    'tree_workflow' => { 'TreeRootHandler' => [], 'TreeBranchLeftHandler' => %w[tree_root], 'TreeBranchRightHandler' => %w[tree_root],
                         'TreeLeafDHandler' => %w[tree_branch_left], 'TreeLeafEHandler' => %w[tree_branch_left],
                         'TreeLeafFHandler' => %w[tree_branch_right], 'TreeLeafGHandler' => %w[tree_branch_right],
                         'TreeFinalConvergenceHandler' => %w[tree_leaf_d tree_leaf_e tree_leaf_f tree_leaf_g] }
  }.freeze

  PARENTS.each do |workflow, handlers|
    handlers.each do |name, deps|
      handler = Class.new(SquaringExamples::Handler) { parents(*deps) }
      TaskerCore::Registry::HandlerRegistry.instance.register_handler("tasker_example_rs::step_handlers::#{workflow}::#{name}", handler)
    end
  end
end
