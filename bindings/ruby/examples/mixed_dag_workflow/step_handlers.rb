# frozen_string_literal: true

require_relative '../shared/squaring'

# tasker-core's Ruby mixed DAG (complex_dag): init -> left, right; validate
# (left, right), transform (left), analyze (right); finalize (validate,
# transform, analyze). Each step squares the product of its parents, so n
# ends at n**64 (tasker-core's own check also expects n**64).
module MixedDagWorkflow
  module StepHandlers
    class DagInitHandler < SquaringExamples::Handler; end

    class DagProcessLeftHandler < SquaringExamples::Handler
      parents 'dag_init'
    end

    class DagProcessRightHandler < SquaringExamples::Handler
      parents 'dag_init'
    end

    class DagValidateHandler < SquaringExamples::Handler
      parents 'dag_process_left', 'dag_process_right'
    end

    class DagTransformHandler < SquaringExamples::Handler
      parents 'dag_process_left'
    end

    class DagAnalyzeHandler < SquaringExamples::Handler
      parents 'dag_process_right'
    end

    class DagFinalizeHandler < SquaringExamples::Handler
      parents 'dag_validate', 'dag_transform', 'dag_analyze'
      verify_power 64
    end
  end
end
