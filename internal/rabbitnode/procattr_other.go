//go:build !linux

package rabbitnode

import "syscall"

// procAttr puts the node in a process group of its own, so that a node
// that does not shut down can be killed with every process it started.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
