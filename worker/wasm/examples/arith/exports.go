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
