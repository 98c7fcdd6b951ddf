# frozen_string_literal: true

require_relative '../shared/squaring'

# The diamond as functional-DSL handlers (diamond_workflow_dsl_rb): start
# squares n, both branches square the start, the end squares their product:
# n**16 (6 -> 2821109907456).
module DiamondWorkflowDsl
  {
    'diamond_start' => [], 'diamond_branch_b' => %w[diamond_start_dsl], 'diamond_branch_c' => %w[diamond_start_dsl],
    'diamond_end' => %w[diamond_branch_b_dsl diamond_branch_c_dsl]
  }.each do |step, parents|
    const_set(step.split('_').map(&:capitalize).join,
              SquaringExamples.dsl_handler("diamond_workflow_dsl_rb.step_handlers.#{step}", parents,
                                           verify_power: step == 'diamond_end' ? 16 : nil))
  end
end
