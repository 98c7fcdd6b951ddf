// Package rabbitnode runs a private RabbitMQ node for tests that stop and
// start a broker: the machine's shared broker stays untouched while a test
// takes its own node down. A node has its own Erlang node name, AMQP port,
// distribution port, cookie, configuration, data (mnesia) and log folders,
// all under one folder; only epmd is shared with other nodes. Stopping and
// starting a node again keeps its data folder, so durable queues and
// persistent messages survive, as they do when an operator restarts a
// broker.
//
// The node runs as the current user, from the broker's own scripts (on
// Debian /usr/lib/rabbitmq/bin: the /usr/sbin wrappers would switch to the
// rabbitmq user, who cannot read a test's temporary folder).
package rabbitnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Node is a private RabbitMQ node.
type Node struct {
	// Name is the Erlang node name (name@localhost).
	Name string
	// Dir holds the node's configuration, cookie, data and logs.
	Dir string
	// Port is the AMQP port on 127.0.0.1; DistPort the Erlang distribution
	// port. Both stay the same across restarts, so clients reconnect.
	Port, DistPort int
	binDir         string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// binDirs are the folders searched for rabbitmq-server and rabbitmqctl
// before PATH: Debian's and RPM's folder of the unwrapped scripts.
var binDirs = []string{"/usr/lib/rabbitmq/bin"}

// FindBinDir locates a folder holding both rabbitmq-server and rabbitmqctl
// that the current user can run: the unwrapped scripts of a packaged broker,
// else the folder of rabbitmq-server on PATH.
func FindBinDir() (string, error) {
	dirs := append([]string(nil), binDirs...)
	if p, err := exec.LookPath("rabbitmq-server"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "rabbitmq-server")) && isExecutable(filepath.Join(d, "rabbitmqctl")) {
			return d, nil
		}
	}
	return "", errors.New("rabbitmq-server and rabbitmqctl not found (looked in /usr/lib/rabbitmq/bin and on PATH)")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// New prepares a node named name (letters, digits, '-' and '_'; the host
// part @localhost is added) in dir, which must exist, on two free loopback
// ports. It starts nothing.
func New(dir, name string) (*Node, error) {
	if name == "" || !validName(name) {
		return nil, fmt.Errorf("rabbitnode: node name %q: want letters, digits, '-' and '_'", name)
	}
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("rabbitnode: picking ports: %w", err)
	}
	n := &Node{Name: name + "@localhost", Dir: dir, Port: ports[0], DistPort: ports[1], binDir: bin}
	files := map[string]string{
		// A cookie of its own: no other node's tools can reach this one.
		".erlang.cookie": "TASKERRABBITNODE" + strconv.Itoa(os.Getpid()) + strconv.FormatInt(time.Now().UnixNano(), 36),
		"rabbitmq.conf": fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\n"+
			// The defaults of a development machine: a full disk or a busy
			// machine must not block publishers for a test.
			"disk_free_limit.absolute = 1MB\nvm_memory_high_watermark.relative = 0.9\n", n.Port),
		"enabled_plugins": "[].\n",
		// Replaces /etc/rabbitmq/rabbitmq-env.conf, whose NODENAME and
		// ports belong to the shared broker.
		"rabbitmq-env.conf": "",
	}
	for f, content := range files {
		mode := os.FileMode(0o644)
		if f == ".erlang.cookie" {
			mode = 0o400
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), mode); err != nil {
			return nil, fmt.Errorf("rabbitnode: %w", err)
		}
	}
	for _, d := range []string{"mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("rabbitnode: %w", err)
		}
	}
	return n, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// freePorts returns k distinct loopback ports that were free a moment ago.
func freePorts(k int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var out []int
	for range k {
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// URL is the node's AMQP URL (guest account, default virtual host).
func (n *Node) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.Port) }

// LogFile is the broker's log.
func (n *Node) LogFile() string { return filepath.Join(n.Dir, "log", "node.log") }

// env is the environment of the node's server and of rabbitmqctl.
func (n *Node) env() []string {
	return append(os.Environ(),
		"HOME="+n.Dir, // the cookie
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(n.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_NODENAME="+n.Name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.DistPort),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(n.Dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(n.Dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(n.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(n.Dir, "log"),
		"RABBITMQ_LOGS="+n.LogFile(),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
}

// Start starts the node and returns once it accepts AMQP connections (the
// broker's await_startup, then the port). A node that exits while starting
// (a port taken meanwhile, a bad folder) is an error naming its output file.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("rabbitnode: %s is already running", n.Name)
	}
	outPath := filepath.Join(n.Dir, "log", "server.out")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("rabbitnode: %w", err)
	}
	// The node outlives ctx (ctx bounds the start only): Stop ends it.
	cmd := exec.Command(filepath.Join(n.binDir, "rabbitmq-server")) //nolint:gosec,noctx // the broker's own script, no arguments
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = n.Dir, n.env(), out, out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		n.mu.Unlock()
		return fmt.Errorf("rabbitnode: starting rabbitmq-server: %w", err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		_ = out.Close()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	n.mu.Unlock()

	for {
		actx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- n.ctl(actx, "await_startup", "--timeout", "60") }()
		select {
		case err = <-done:
		case <-exited:
			cancel()
			awaitErr := <-done
			n.forget()
			return fmt.Errorf("rabbitnode: %s exited while starting (%v; await_startup: %v); see %s and %s",
				n.Name, n.exitErr(), awaitErr, outPath, n.LogFile())
		}
		cancel()
		if err == nil && portOpen(n.Port) {
			return nil
		}
		if ctx.Err() != nil {
			_ = n.kill()
			return fmt.Errorf("rabbitnode: %s did not start: %w (last: %v); see %s", n.Name, ctx.Err(), err, n.LogFile())
		}
		// The node may not have registered its name yet.
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// Stop shuts the node down (rabbitmqctl shutdown: the broker stops and the
// Erlang VM exits) and waits for its process. Its data stays for the next
// Start. Stopping a node that is not running does nothing. A node that
// does not shut down before ctx ends is killed.
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return nil
	}
	err := n.ctl(ctx, "shutdown")
	if err != nil {
		_ = n.kill()
	}
	select {
	case <-exited:
	case <-ctx.Done():
		_ = n.kill()
		<-exited
	}
	n.forget()
	if err != nil {
		return fmt.Errorf("rabbitnode: shutting %s down: %w (killed it)", n.Name, err)
	}
	return nil
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (n *Node) forget() {
	n.mu.Lock()
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
}

func (n *Node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.waitErr
}

// kill ends the node's process group.
func (n *Node) kill() error {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// Ctl runs rabbitmqctl against the node.
func (n *Node) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(n.binDir, "rabbitmqctl"), append([]string{"-n", n.Name}, args...)...) //nolint:gosec // the broker's own tool, arguments built here
	cmd.Dir, cmd.Env = n.Dir, n.env()
	b, err := cmd.CombinedOutput()
	if err != nil {
		return string(b), fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, b)
	}
	return string(b), nil
}

func (n *Node) ctl(ctx context.Context, args ...string) error {
	_, err := n.Ctl(ctx, args...)
	return err
}

func portOpen(port int) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
