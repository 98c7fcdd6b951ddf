package rabbitnode

import "syscall"

// procAttr puts the node in a process group of its own (so that a node
// that does not shut down can be killed with every process it started,
// but not the shared epmd, which daemonizes into a session of its own),
// and has the kernel send its script SIGTERM when the test process dies
// without stopping it: the script then shuts the broker down.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
