# frozen_string_literal: true

module TaskerCore
  module StepHandler
    module Mixins
      # Helpers for a decision step: its result names the steps to create
      # (decision_point_outcome), which the orchestration then adds.
      module Decision
        def capabilities = super + %w[decision_point dynamic_workflow step_creation]

        def decision_success(steps:, result_data: {}, metadata: {})
          names = Array(steps)
          validate_step_names!(names)
          decision_result(Types::DecisionPointOutcome.create_steps(names), result_data, metadata)
        end

        def decision_no_branches(result_data: {}, metadata: {})
          decision_result(Types::DecisionPointOutcome.no_branches, result_data, metadata)
        end
        alias skip_branches decision_no_branches

        def decision_with_custom_outcome(outcome:, result_data: {}, metadata: {})
          hash = validate_decision_outcome!(outcome)
          type = (hash[:type] || hash['type'] || hash[:outcome_type] || hash['outcome_type']).to_s
          names = hash[:step_names] || hash['step_names'] || []
          success(result: result_data.merge(decision_point_outcome: hash),
                  metadata: decision_metadata(Types::DecisionPointOutcome::Outcome.new(type, names), metadata))
        end

        def validate_decision_outcome!(outcome)
          hash = outcome.is_a?(Hash) ? outcome : (outcome.respond_to?(:to_h) && outcome.to_h)
          invalid_outcome!('Outcome must be Hash or DecisionPointOutcome') unless hash.is_a?(Hash)
          type = hash[:type] || hash['type'] || hash[:outcome_type] || hash['outcome_type']
          invalid_outcome!("Invalid outcome_type: #{type}") unless %w[NoBranches CreateSteps no_branches create_steps].include?(type)
          validate_step_names!(hash[:step_names] || hash['step_names']) if type.downcase.delete('_') == 'createsteps'
          hash
        end

        private

        def decision_result(outcome, result_data, metadata)
          success(result: result_data.merge(decision_point_outcome: outcome.to_h), metadata: decision_metadata(outcome, metadata))
        end

        def validate_step_names!(names)
          invalid_outcome!('step_names must be non-empty array') unless names.is_a?(Array) && !names.empty?
          invalid_outcome!('All step names must be non-empty strings') unless names.all? { |n| n.is_a?(String) && !n.empty? }
        end

        def decision_metadata(outcome, custom)
          { decision_point: true, outcome_type: outcome.type, branches_created: outcome.step_names.size,
            processed_at: Time.now.utc.iso8601, processed_by: handler_name }.merge(custom)
        end

        def invalid_outcome!(message)
          raise Errors::PermanentError.new("Invalid decision point outcome: #{message}",
                                           error_code: 'INVALID_DECISION_OUTCOME', context: { error_category: 'validation' })
        end
      end
    end

    # A handler class for decision steps (tasker-core's legacy form of
    # `include Mixins::Decision`).
    class Decision < Base
      include Mixins::Decision
    end
  end
end
