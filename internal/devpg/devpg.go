// Package devpg runs a private PostgreSQL cluster for development: `tasker
// dev` and `tasker bench --embedded` use it when no server answers. The
// cluster lives in a folder (by default .tasker/postgres), is created once
// with initdb and reused by later runs, listens on 127.0.0.1 on a free port,
// and trusts local connections. When the process runs as root, initdb and the
// server run as an unprivileged user (postgres, else nobody) because
// PostgreSQL refuses to run as root.
package devpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a private PostgreSQL cluster.
type Cluster struct {
	Dir    string // holds data/, the log and the socket
	BinDir string
	Port   int
	// Settings are server settings for the next Start, each "name=value"
	// (autovacuum=off, shared_preload_libraries=pg_stat_statements); they
	// apply to that run of the server only.
	Settings []string
	cred     *syscall.Credential
	started  bool
}

var (
	settingNameRE  = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
	settingValueRE = regexp.MustCompile(`^[A-Za-z0-9_.,:/+-]*$`)
)

// settingOptions turns Settings into server options, refusing anything but
// a plain name and a plain value (pg_ctl hands the options to a shell).
func (c *Cluster) settingOptions() (string, error) {
	var b strings.Builder
	for _, s := range c.Settings {
		name, value, ok := strings.Cut(s, "=")
		if !ok || !settingNameRE.MatchString(name) || !settingValueRE.MatchString(value) {
			return "", fmt.Errorf("PostgreSQL setting %q: want name=value, the name in lower-case letters, digits, _ and ., "+
				"the value in letters, digits and _.,:/+-", s)
		}
		fmt.Fprintf(&b, " -c %s=%s", name, value)
	}
	return b.String(), nil
}

// HasLibrary reports whether the server's package library folder holds the
// shared library name (pg_stat_statements, auto_explain), which
// shared_preload_libraries can then name.
func (c *Cluster) HasLibrary(name string) bool {
	// initdb on PATH may be a link into the installation's bin folder.
	initdb, err := filepath.EvalSymlinks(filepath.Join(c.BinDir, "initdb"))
	if err != nil {
		return false
	}
	return fileExists(filepath.Join(filepath.Dir(filepath.Dir(initdb)), "lib", name+".so"))
}

// FindBinDir locates initdb and pg_ctl: on PATH, else the newest
// /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; " +
		"install them (Debian: apt-get install postgresql) or set DATABASE_URL to a running server")
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// New prepares a cluster in dir (not created or started yet).
func New(dir string) (*Cluster, error) {
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: abs, BinDir: bin}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}
	return c, nil
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			continue
		}
		gid, err := strconv.ParseUint(u.Gid, 10, 32)
		if err != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and no unprivileged user (postgres or nobody) exists to run PostgreSQL as")
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// LogFile is the server's log.
func (c *Cluster) LogFile() string { return filepath.Join(c.Dir, "postgres.log") }

// URL is the connection string of the running cluster.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Exists reports whether the cluster was initialised before.
func (c *Cluster) Exists() bool { return fileExists(filepath.Join(c.dataDir(), "PG_VERSION")) }

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...) //nolint:gosec // PostgreSQL's own binaries, arguments built here
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.Dir = c.Dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Init creates the cluster when it does not exist yet.
func (c *Cluster) Init(ctx context.Context) error {
	if c.Exists() {
		return nil
	}
	if err := os.MkdirAll(c.dataDir(), 0o700); err != nil {
		return err
	}
	if err := c.reachable(); err != nil {
		return err
	}
	if err := c.chown(c.Dir, c.dataDir()); err != nil {
		return err
	}
	return run(c.command(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"))
}

// reachable checks that the unprivileged server user can enter every folder
// above Dir (its own folder is handed to it): a folder it cannot search makes
// initdb and the server fail with a bare "permission denied".
func (c *Cluster) reachable() error {
	if c.cred == nil {
		return nil
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !searchable(st, c.cred) {
			return fmt.Errorf("the PostgreSQL server runs as uid %d, which cannot enter %s (mode %v): "+
				"make it searchable (chmod o+x %s) or put the cluster in another folder", c.cred.Uid, dir, st.Mode().Perm(), dir)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

// searchable reports whether a process with cred may enter the folder st
// describes.
func searchable(st os.FileInfo, cred *syscall.Credential) bool {
	perm := st.Mode().Perm()
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		switch {
		case sys.Uid == cred.Uid:
			return perm&0o100 != 0
		case sys.Gid == cred.Gid:
			return perm&0o010 != 0
		}
	}
	return perm&0o001 != 0
}

func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("handing %s to the PostgreSQL user: %w", p, err)
		}
	}
	return nil
}

// Start starts the server and waits until it accepts connections: on Port
// when it is set (a restart keeps the port, so clients reconnect to the
// same address), else on a free port it then records in Port. A server this
// folder left running (a crashed earlier run) is stopped first.
func (c *Cluster) Start(ctx context.Context) error {
	settings, err := c.settingOptions()
	if err != nil {
		return err
	}
	if fileExists(filepath.Join(c.dataDir(), "postmaster.pid")) {
		_ = run(c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop"))
	}
	if c.Port == 0 {
		port, err := freePort(ctx)
		if err != nil {
			return err
		}
		c.Port = port
	}
	port := c.Port
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='%s' -c max_connections=200 -c fsync=on%s",
		port, c.Dir, settings)
	if err := run(c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-l", c.LogFile(), "-o", opts, "-w", "-t", "60", "start")); err != nil {
		return fmt.Errorf("starting the private PostgreSQL (log: %s): %w", c.LogFile(), err)
	}
	c.started = true
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("private PostgreSQL did not accept connections on port %d (log: %s)", port, c.LogFile())
}

// Stop stops the server (fast shutdown: open sessions are disconnected).
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.started {
		return nil
	}
	c.started = false
	return run(c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "30", "stop"))
}

func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
