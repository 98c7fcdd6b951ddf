package worker

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// parker puts a thread to sleep until another wakes it. On Linux it is a
// futex: the sleeping thread waits in the kernel and wake wakes that very
// thread with one system call. A poll blocked in PollWait sleeps this way
// rather than on a channel, because the poll of a foreign host runs on the
// host's own thread, and a goroutine on such a thread woken through the Go
// scheduler is handed over from the thread that readied it: two thread
// wake-ups instead of one (docs/benchmarks.md). The waiting thread is
// blocked in a system call, so it holds no P meanwhile.
type parker struct {
	state atomic.Uint32 // 0 until woken, then 1
}

// newParker returns a parker that has not been woken.
func newParker() parker { return parker{} }

const (
	futexWaitPrivate = 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 129 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// wait blocks until wake has been called (at once if it already was).
func (p *parker) wait() {
	for p.state.Load() == 0 {
		// Returns at once when state is no longer 0 (EAGAIN); a spurious
		// return (EINTR) just goes round again.
		_, _, _ = syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&p.state)), futexWaitPrivate, 0, 0, 0, 0)
	}
}

// wake ends wait, now or before it starts; a second call does nothing.
func (p *parker) wake() {
	if p.state.Swap(1) == 0 {
		_, _, _ = syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&p.state)), futexWakePrivate, 1, 0, 0, 0)
	}
}

// woken reports whether wake has been called.
func (p *parker) woken() bool { return p.state.Load() != 0 }

// spinPause is one round of a spinning wait: nothing on Linux, where the
// waiting thread is the host's own and holds its P anyway (giving the P up
// would hand the thread over, the very wake-up spinning avoids).
func spinPause() {}
