// Package listen opens the TCP listeners of Tasker's HTTP servers (the
// orchestration REST API and the worker's API) and words the failure people
// meet most, a port that something else already holds, so that it names
// the port and the setting that chooses another instead of falling back to
// a port nobody asked for.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/tasker-go/tasker/shared/config"
)

// TCP listens on addr (host:port; port 0 picks a free port). setting is the
// configuration key addr comes from, such as
// "orchestration.web.bind_address"; it is named in the error when the port
// is taken, which is then an *InUseError.
func TCP(ctx context.Context, addr, setting string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &InUseError{Addr: addr, Setting: setting, Err: err}
	}
	return nil, fmt.Errorf("listening on %s (%s): %w", addr, setting, err)
}

// InUseError says that the port of Addr is taken.
type InUseError struct {
	Addr    string // the address asked for, such as "127.0.0.1:8080"
	Setting string // the configuration key it came from
	Err     error  // the listen error
}

// Port is the port asked for.
func (e *InUseError) Port() string {
	_, port, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return e.Addr
	}
	return port
}

// Alternative is an address to suggest instead: the same host, ten ports
// up.
func (e *InUseError) Alternative() string {
	host, port, err := net.SplitHostPort(e.Addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n+10 > 65535 {
		return net.JoinHostPort(host, "9090")
	}
	return net.JoinHostPort(host, strconv.Itoa(n+10))
}

// Error names the port, the setting and how to choose another port.
func (e *InUseError) Error() string {
	return fmt.Sprintf("port %s is already in use (%s = %q): stop the program listening there, or choose another "+
		"address with %s or %s=%s (port 0 picks a free port)",
		e.Port(), e.Setting, e.Addr, e.Setting, config.EnvName(e.Setting), e.Alternative())
}

// Unwrap returns the listen error.
func (e *InUseError) Unwrap() error { return e.Err }
