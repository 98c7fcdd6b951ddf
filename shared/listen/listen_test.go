package listen

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBusyPortNamesPortAndSetting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	_, err = TCP(context.Background(), addr, "worker.web.bind_address")
	var inUse *InUseError
	require.ErrorAs(t, err, &inUse)
	require.True(t, errors.Is(err, syscall.EADDRINUSE))
	require.Equal(t, port, inUse.Port())
	alt := inUse.Alternative()
	require.Equal(t, "port "+port+` is already in use (worker.web.bind_address = "`+addr+`"): stop the program listening there, `+
		"or choose another address with worker.web.bind_address or TASKER__WORKER__WEB__BIND_ADDRESS="+alt+
		" (port 0 picks a free port)", err.Error())
}

func TestPortZeroPicksAFreePort(t *testing.T) {
	ln, err := TCP(context.Background(), "127.0.0.1:0", "orchestration.web.bind_address")
	require.NoError(t, err)
	defer ln.Close()
	require.NotEqual(t, 0, ln.Addr().(*net.TCPAddr).Port)
}

func TestOtherErrorsNameTheSetting(t *testing.T) {
	_, err := TCP(context.Background(), "no-port", "orchestration.web.bind_address")
	require.ErrorContains(t, err, "listening on no-port (orchestration.web.bind_address): ")
	var inUse *InUseError
	require.False(t, errors.As(err, &inUse))
}

func TestAlternative(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "127.0.0.1:8090",
		":8081":          ":8091",
		"[::1]:65530":    "[::1]:9090",
	} {
		require.Equal(t, want, (&InUseError{Addr: addr}).Alternative(), addr)
	}
}
