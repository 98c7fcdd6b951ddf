# frozen_string_literal: true

require_relative '../shared/squaring'

# tasker-core's Ruby tree (hierarchical_tree): root -> left, right -> leaves
# d, e (left) and f, g (right) -> final convergence of the four leaves. Each
# step squares the product of its parents: n ends at n**64, while
# tasker-core's own check expects n**32 (and reports matches: false).
module TreeWorkflow
  module StepHandlers
    class TreeRootHandler < SquaringExamples::Handler; end

    class TreeBranchLeftHandler < SquaringExamples::Handler
      parents 'tree_root'
    end

    class TreeBranchRightHandler < SquaringExamples::Handler
      parents 'tree_root'
    end

    class TreeLeafDHandler < SquaringExamples::Handler
      parents 'tree_branch_left'
    end

    class TreeLeafEHandler < SquaringExamples::Handler
      parents 'tree_branch_left'
    end

    class TreeLeafFHandler < SquaringExamples::Handler
      parents 'tree_branch_right'
    end

    class TreeLeafGHandler < SquaringExamples::Handler
      parents 'tree_branch_right'
    end

    class TreeFinalConvergenceHandler < SquaringExamples::Handler
      parents 'tree_leaf_d', 'tree_leaf_e', 'tree_leaf_f', 'tree_leaf_g'
      verify_power 32
    end
  end
end
