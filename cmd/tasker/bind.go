package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/listen"
)

// restBindSetting is the configuration key of the REST API's address.
const restBindSetting = "orchestration.web.bind_address"

// devBindDefault is where `tasker dev` serves its REST API unless told
// otherwise: loopback port 8080, the address the README, the tour and the
// client commands' default --url assume.
const devBindDefault = "127.0.0.1:8080"

// devBindAddress resolves the address of `tasker dev`'s REST API: --bind
// when given; else orchestration.web.bind_address when
// TASKER__ORCHESTRATION__WEB__BIND_ADDRESS is set or a configuration file
// changed it from the built-in ":8080" (which would listen on every
// interface); else devBindDefault.
func devBindAddress(flag string, configured string) string {
	switch {
	case flag != "":
		return flag
	case os.Getenv(config.EnvName(restBindSetting)) != "":
		return configured
	case configured != "" && configured != config.Default(config.ContextOrchestration).Orchestration.Web.BindAddress:
		return configured
	}
	return devBindDefault
}

// checkBind fails early, before any service starts, when addr is malformed
// or its port is taken.
func checkBind(ctx context.Context, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("REST API address %q: want host:port (port 0 picks a free port): %w", addr, err)
	}
	ln, err := listen.TCP(ctx, addr, restBindSetting)
	if err != nil {
		return bindError(err)
	}
	return ln.Close()
}

// bindError rewords a port-in-use error for a command that has a --bind
// flag: it names the port and how to pick another, and leaves other errors
// as they are. A free port is never picked silently: clients would go on
// talking to whatever holds the port they expect.
func bindError(err error) error {
	var inUse *listen.InUseError
	if !errors.As(err, &inUse) {
		return err
	}
	host, _, splitErr := net.SplitHostPort(inUse.Addr)
	if splitErr != nil {
		host = "127.0.0.1"
	}
	return fmt.Errorf("port %s is already in use (REST API address %s): stop the program listening there, "+
		"or pick another address with --bind %s or %s=%s; --bind %s picks a free port "+
		"(then give the URL printed at start-up to --url or TASKER_URL)",
		inUse.Port(), inUse.Addr, inUse.Alternative(), config.EnvName(restBindSetting), inUse.Alternative(),
		net.JoinHostPort(host, "0"))
}
