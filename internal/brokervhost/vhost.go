// Package brokervhost creates private RabbitMQ virtual hosts, one per run
// of a benchmark or a system test, and deletes them afterwards: a system on
// its own virtual host shares no queue, exchange or delay bucket with any
// other system on the same broker. It drives rabbitmqctl (the broker's own
// administration tool, installed with the server), so it works only on the
// machine that runs the broker node and as a user allowed to talk to it
// (root or the rabbitmq user); the management HTTP plugin is not needed.
package brokervhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// ErrNoRabbitmqctl is returned by Create when rabbitmqctl is not installed.
var ErrNoRabbitmqctl = errors.New("rabbitmqctl not found (it comes with the rabbitmq-server package; it must run on the broker's machine)")

// commandTimeout bounds one rabbitmqctl call: it starts an Erlang VM, which
// takes seconds on a loaded machine.
const commandTimeout = 90 * time.Second

// VHost is a virtual host created by Create.
type VHost struct {
	// Name is the virtual host's name.
	Name string
	// URL is the AMQP URL of the virtual host: the base URL with its path
	// replaced by Name.
	URL string
	ctl string
}

// Reachable reports whether something accepts TCP connections at the host
// and port of the AMQP URL base (port 5672 when it names none).
func Reachable(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("RabbitMQ URL %q: %w", base, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5672")
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("RabbitMQ not reachable at %s: %w", host, err)
	}
	return conn.Close()
}

// Create adds a virtual host named prefix followed by random hex digits,
// grants the user of base (guest when base names none) every permission on
// it, and returns it. base is the broker's AMQP URL; its own virtual host
// is ignored. Delete removes the virtual host and everything in it.
func Create(ctx context.Context, base, prefix string) (*VHost, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, fmt.Errorf("RabbitMQ URL %q: want amqp://user:password@host:port/", base)
	}
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		return nil, ErrNoRabbitmqctl
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	v := &VHost{Name: prefix + hex.EncodeToString(b[:]), ctl: ctl}
	user := "guest"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if err := v.run(ctx, "add_vhost", v.Name); err != nil {
		return nil, err
	}
	if err := v.run(ctx, "set_permissions", "-p", v.Name, user, ".*", ".*", ".*"); err != nil {
		_ = v.Delete(context.WithoutCancel(ctx))
		return nil, err
	}
	u.Path, u.RawPath = "/"+v.Name, ""
	v.URL = u.String()
	return v, nil
}

// Delete removes the virtual host with its queues and exchanges.
func (v *VHost) Delete(ctx context.Context) error {
	return v.run(ctx, "delete_vhost", v.Name)
}

func (v *VHost) run(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, v.ctl, args...).CombinedOutput() //nolint:gosec // rabbitmqctl with arguments of our own
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
