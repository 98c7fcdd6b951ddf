//go:build wasip1

package main

import "github.com/tasker-go/tasker/worker/wasm/guest"

// Each handler is an export taking the step event (address, length) and
// returning the result JSON (address<<32 | length).

//go:wasmexport linear_step_1
func linearStep1(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["linear_step_1"]) }

//go:wasmexport linear_step_2
func linearStep2(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["linear_step_2"]) }

//go:wasmexport linear_step_3
func linearStep3(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["linear_step_3"]) }

//go:wasmexport linear_step_4
func linearStep4(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["linear_step_4"]) }

//go:wasmexport diamond_start
func diamondStart(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["diamond_start"]) }

//go:wasmexport diamond_branch_b
func diamondBranchB(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["diamond_branch_b"])
}

//go:wasmexport diamond_branch_c
func diamondBranchC(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["diamond_branch_c"])
}

//go:wasmexport diamond_end
func diamondEnd(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["diamond_end"]) }

//go:wasmexport dag_init
func dagInit(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["dag_init"]) }

//go:wasmexport dag_process_left
func dagProcessLeft(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["dag_process_left"])
}

//go:wasmexport dag_process_right
func dagProcessRight(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["dag_process_right"])
}

//go:wasmexport dag_validate
func dagValidate(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["dag_validate"]) }

//go:wasmexport dag_transform
func dagTransform(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["dag_transform"]) }

//go:wasmexport dag_analyze
func dagAnalyze(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["dag_analyze"]) }

//go:wasmexport dag_finalize
func dagFinalize(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["dag_finalize"]) }

//go:wasmexport tree_root
func treeRoot(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["tree_root"]) }

//go:wasmexport tree_branch_left
func treeBranchLeft(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["tree_branch_left"])
}

//go:wasmexport tree_branch_right
func treeBranchRight(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["tree_branch_right"])
}

//go:wasmexport tree_leaf_d
func treeLeafD(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["tree_leaf_d"]) }

//go:wasmexport tree_leaf_e
func treeLeafE(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["tree_leaf_e"]) }

//go:wasmexport tree_leaf_f
func treeLeafF(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["tree_leaf_f"]) }

//go:wasmexport tree_leaf_g
func treeLeafG(ptr, size uint32) uint64 { return guest.Run(ptr, size, handlers["tree_leaf_g"]) }

//go:wasmexport tree_final_convergence
func treeFinalConvergence(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, handlers["tree_final_convergence"])
}
