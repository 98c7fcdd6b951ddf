# frozen_string_literal: true

require_relative '../shared/squaring'

# The linear workflow as functional-DSL handlers (linear_workflow_dsl_rb):
# each step squares the previous result, so n ends at n**16 (6 ->
# 2821109907456) as in tasker-core's Ruby version, whose final check
# expects n**8.
module LinearWorkflowDsl
  {
    'linear_step_1' => [], 'linear_step_2' => %w[linear_step_1_dsl], 'linear_step_3' => %w[linear_step_2_dsl],
    'linear_step_4' => %w[linear_step_3_dsl]
  }.each do |step, parents|
    const_set(step.split('_').map(&:capitalize).join,
              SquaringExamples.dsl_handler("linear_workflow_dsl_rb.step_handlers.#{step}", parents,
                                           verify_power: step == 'linear_step_4' ? 8 : nil))
  end
end
