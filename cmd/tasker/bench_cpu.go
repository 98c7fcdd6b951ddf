package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protowire"
)

// The throughput scenario is CPU-bound on a small machine: the benchmark
// client, Tasker and PostgreSQL share the cores, so steps/s is roughly the
// cores divided by the CPU one step costs. Wall-clock throughput swings
// with whatever else runs on the machine; CPU time per step does not, so
// it is the figure to compare two builds by.

// clockTicks is the kernel's USER_HZ, the unit of the times in
// /proc/<pid>/stat (100 on every Linux architecture Go supports).
const clockTicks = 100

// benchClientLabel is the profiler label of the benchmark client's
// goroutines in embedded mode; the CPU profile's samples carrying it are
// the client's share of the process.
const benchClientLabel = "tasker_bench"

// cpuPerStep is the CPU time one step of the throughput scenario cost.
type cpuPerStep struct {
	// ProcessUS is this process: with --embedded orchestration, the Go
	// worker and the benchmark client; with --url the client alone.
	ProcessUS float64 `json:"process_us"`
	// ClientUS and TaskerUS split ProcessUS in embedded mode, by the
	// share of the CPU profile's samples taken in the client's goroutines
	// (nil without a profile).
	ClientUS *float64 `json:"client_us,omitempty"`
	TaskerUS *float64 `json:"tasker_us,omitempty"`
	// PostgresUS is the whole server (the postmaster and every process it
	// started) and SessionsUS Tasker's own sessions; nil when the server
	// is not on this machine (PostgresNote says why).
	PostgresUS   *float64 `json:"postgres_us,omitempty"`
	SessionsUS   *float64 `json:"postgres_sessions_us,omitempty"`
	PostgresNote string   `json:"postgres_note,omitempty"`
	// WALBytes is the write-ahead log the server wrote per step (the
	// advance of its WAL position: the whole server, so on a shared server
	// other clients' writes too). Every row written is logged, so it
	// tracks the database's write work, local server or not.
	WALBytes *float64 `json:"wal_bytes,omitempty"`
	// CoresBusy is the CPU measured here divided by the wall time: how many
	// cores the run kept busy.
	CoresBusy float64 `json:"cores_busy"`
	Note      string  `json:"note"`

	// The raw totals, so that rounds add up.
	steps                                  int
	wall, process, client, server, session time.Duration
	haveClient, haveServer                 bool
	walBytes                               int64
	haveWAL                                bool
}

// readWAL reads the server's WAL position, in bytes.
func readWAL(ctx context.Context, db *pgx.Conn) (int64, error) {
	var lsn int64
	err := db.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&lsn)
	return lsn, err
}

// cpuMeter measures one throughput run.
type cpuMeter struct {
	db *pgx.Conn
	// appName is the application_name of Tasker's sessions ("" with --url:
	// every other session of the database).
	appName string
	// profile is where the CPU profile goes ("" keeps it in memory), and
	// profiling whether to take one (embedded mode, to split the client's
	// share out).
	profile   string
	profiling bool

	buf        bytes.Buffer
	file       *os.File
	started    bool
	postmaster int
	note       string
	start      time.Time
	proc       time.Duration
	server     time.Duration
	sessions   map[int]time.Duration
	wal        int64
	haveWAL    bool
}

// newCPUMeter prepares a meter. embedded says whether Tasker runs in this
// process; profile is the --cpuprofile path.
func newCPUMeter(db *pgx.Conn, embedded bool, appName, profile string) *cpuMeter {
	m := &cpuMeter{db: db, profile: profile, profiling: embedded || profile != ""}
	if embedded {
		m.appName = appName
	}
	return m
}

// abort stops the profile of a run that failed.
func (m *cpuMeter) abort() {
	if m != nil && m.started {
		pprof.StopCPUProfile()
		m.started = false
		if m.file != nil {
			_ = m.file.Close()
		}
	}
}

// begin takes the starting readings and starts the profile.
func (m *cpuMeter) begin(ctx context.Context) error {
	if m == nil {
		return nil
	}
	if m.db != nil {
		if w, err := readWAL(ctx, m.db); err == nil {
			m.wal, m.haveWAL = w, true
		}
	}
	if m.db == nil {
		m.note = "n/a: no database connection"
	} else if pid, err := localPostmaster(ctx, m.db); err != nil {
		m.note = "n/a: " + err.Error()
	} else {
		m.postmaster = pid
		m.server = treeCPU(pid)
		m.sessions, _ = sessionCPU(ctx, m.db, m.appName)
	}
	if m.profiling {
		var w io.Writer = &m.buf
		if m.profile != "" {
			f, err := os.Create(m.profile)
			if err != nil {
				return err
			}
			m.file, w = f, f
		}
		if err := pprof.StartCPUProfile(w); err != nil {
			if m.file != nil {
				_ = m.file.Close()
				return fmt.Errorf("CPU profile: %w", err)
			}
			// Only the client's share needs it: measure without.
		} else {
			m.started = true
		}
	}
	m.start = time.Now()
	m.proc = processCPU()
	return nil
}

// end takes the closing readings (at the run's last completion, before
// the statistics settle) and returns the figures per step.
func (m *cpuMeter) end(ctx context.Context, steps int) (*cpuPerStep, error) {
	if m == nil {
		return nil, nil
	}
	r := &cpuPerStep{steps: steps, wall: time.Since(m.start), process: processCPU() - m.proc}
	if m.haveWAL {
		if w, err := readWAL(ctx, m.db); err == nil {
			r.walBytes, r.haveWAL = w-m.wal, true
		}
	}
	if m.postmaster != 0 {
		r.server, r.haveServer = treeCPU(m.postmaster)-m.server, true
		if after, err := sessionCPU(ctx, m.db, m.appName); err == nil {
			for pid, t := range after {
				r.session += t - m.sessions[pid]
			}
		}
	}
	if m.started {
		pprof.StopCPUProfile()
		m.started = false
		data := m.buf.Bytes()
		if m.file != nil {
			if err := m.file.Close(); err != nil {
				return nil, err
			}
			b, err := os.ReadFile(m.profile)
			if err != nil {
				return nil, err
			}
			data = b
		}
		if m.appName != "" && len(data) > 0 {
			share, err := labelShare(data, "role", benchClientLabel)
			if err != nil {
				return nil, fmt.Errorf("reading the CPU profile: %w", err)
			}
			r.client, r.haveClient = time.Duration(float64(r.process)*share), true
		}
	}
	r.PostgresNote = m.note
	r.finish(m.appName != "")
	return r, nil
}

// finish computes the per-step figures from the raw totals.
func (r *cpuPerStep) finish(embedded bool) {
	if r.steps == 0 {
		return
	}
	us := func(d time.Duration) float64 {
		return math.Round(float64(d.Microseconds())/float64(r.steps)*10) / 10
	}
	r.ProcessUS = us(r.process)
	r.ClientUS, r.TaskerUS, r.PostgresUS, r.SessionsUS, r.WALBytes = nil, nil, nil, nil, nil
	busy := r.process
	if r.haveClient {
		c, t := us(r.client), us(r.process-r.client)
		r.ClientUS, r.TaskerUS = &c, &t
	}
	if r.haveServer {
		s, ss := us(r.server), us(r.session)
		r.PostgresUS, r.SessionsUS = &s, &ss
		busy += r.server
	}
	if r.haveWAL {
		b := math.Round(float64(r.walBytes) / float64(r.steps))
		r.WALBytes = &b
	}
	if r.wall > 0 {
		r.CoresBusy = round2(busy.Seconds() / r.wall.Seconds())
	}
	if embedded {
		r.Note = "process: orchestration, Go worker and bench client in one process, client split out by CPU profile " +
			"labels (the garbage collector's background work counts as Tasker's); PostgreSQL: all the server's " +
			"processes (on a shared server, other clients' work too) and Tasker's sessions (application_name)"
	} else {
		r.Note = "process: the bench client alone (Tasker is measured from outside); PostgreSQL: all the server's " +
			"processes and the database's other sessions"
	}
}

// mergeCPU adds a round's figures to the rounds before.
func mergeCPU(into, add *cpuPerStep) *cpuPerStep {
	if into == nil || add == nil {
		return add
	}
	add.steps += into.steps
	add.wall += into.wall
	add.process += into.process
	add.client += into.client
	add.server += into.server
	add.session += into.session
	add.walBytes += into.walBytes
	add.haveWAL = add.haveWAL && into.haveWAL
	add.haveClient = add.haveClient && into.haveClient
	add.haveServer = add.haveServer && into.haveServer
	add.finish(add.ClientUS != nil || into.ClientUS != nil)
	return add
}

// printCPU prints the CPU figures of the throughput run.
func printCPU(out io.Writer, c *cpuPerStep) {
	if c == nil {
		return
	}
	fmt.Fprintf(out, "CPU per step: this process %.0f µs", c.ProcessUS)
	if c.ClientUS != nil {
		fmt.Fprintf(out, " (Tasker %.0f µs, bench client %.0f µs)", *c.TaskerUS, *c.ClientUS)
	}
	if c.PostgresUS != nil {
		fmt.Fprintf(out, "; PostgreSQL %.0f µs (Tasker's sessions %.0f µs)", *c.PostgresUS, *c.SessionsUS)
		if c.ClientUS != nil {
			fmt.Fprintf(out, "; Tasker + PostgreSQL %.0f µs", *c.TaskerUS+*c.PostgresUS)
		}
	} else {
		fmt.Fprintf(out, "; PostgreSQL %s", c.PostgresNote)
	}
	fmt.Fprintf(out, "; %.2f cores busy\n", c.CoresBusy)
	if c.WALBytes != nil {
		fmt.Fprintf(out, "WAL per step: %.0f bytes (the whole server)\n", *c.WALBytes)
	}
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// localPostmaster finds the PostgreSQL server's main process when it runs
// on this machine: db's backend must be a local process whose title names
// db's own client port (so a pid that merely exists here is not taken for
// it), and its parent is the postmaster.
func localPostmaster(ctx context.Context, db *pgx.Conn) (int, error) {
	var pid int
	var port *int32
	if err := db.QueryRow(ctx, `SELECT pg_backend_pid(), inet_client_port()`).Scan(&pid, &port); err != nil {
		return 0, err
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0, errors.New("the server is not on this machine")
	}
	title := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	if !strings.HasPrefix(title, "postgres") {
		return 0, errors.New("the server is not on this machine")
	}
	if port != nil {
		local := db.PgConn().Conn().LocalAddr().String()
		if !strings.HasSuffix(local, ":"+strconv.Itoa(int(*port))) || !strings.Contains(title, "("+strconv.Itoa(int(*port))+")") {
			return 0, errors.New("the server is not on this machine")
		}
	}
	st, err := readStat(pid)
	if err != nil || st.ppid <= 1 {
		return 0, errors.New("the server's main process is not visible")
	}
	return st.ppid, nil
}

// procStat is what this file reads of /proc/<pid>/stat.
type procStat struct {
	ppid           int
	utime, stime   int64
	cutime, cstime int64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// parseStat reads a /proc/<pid>/stat line. The command name is in
// parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(s string) (procStat, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("unreadable stat line %q", s)
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("short stat line %q", s)
	}
	var st procStat
	var err error
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, err
	}
	vals := make([]int64, 4)
	for i := range vals {
		if vals[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return procStat{}, err
		}
	}
	st.utime, st.stime, st.cutime, st.cstime = vals[0], vals[1], vals[2], vals[3]
	return st, nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }

// treeCPU is the CPU time of the postmaster and its children: the live
// children's own time, and the postmaster's own and its reaped children's
// (a backend that exits during the run moves its time there).
func treeCPU(postmaster int) time.Duration {
	root, err := readStat(postmaster)
	if err != nil {
		return 0
	}
	total := ticks(root.utime + root.stime + root.cutime + root.cstime)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != postmaster {
			continue
		}
		total += ticks(st.utime + st.stime)
	}
	return total
}

// sessionCPU is the CPU time of each of Tasker's sessions by backend pid:
// those with application_name appName, or with appName "" every other
// client session of the database. A session that ends during the run is
// missed (the pools keep theirs for the run).
func sessionCPU(ctx context.Context, db *pgx.Conn, appName string) (map[int]time.Duration, error) {
	rows, err := db.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
		AND ($1 = '' OR application_name = $1)`, appName)
	if err != nil {
		return nil, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if st, err := readStat(int(pid)); err == nil {
			out[int(pid)] = ticks(st.utime + st.stime)
		}
	}
	return out, nil
}

// labelShare is the share of a CPU profile's CPU time taken in goroutines
// carrying the label key=value. It reads the profile's protocol buffer
// directly: the samples' values and labels, and the string table they
// index.
func labelShare(profile []byte, key, value string) (float64, error) {
	if len(profile) == 0 {
		return 0, errors.New("empty profile")
	}
	zr, err := gzip.NewReader(bytes.NewReader(profile))
	if err != nil {
		return 0, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return 0, err
	}
	type sample struct {
		values []uint64
		labels [][2]uint64 // key, str string indexes
	}
	var samples []sample
	var strs []string
	err = eachField(raw, func(num protowire.Number, typ protowire.Type, b []byte, _ uint64) error {
		switch {
		case num == 2 && typ == protowire.BytesType: // Profile.sample
			var s sample
			err := eachField(b, func(num protowire.Number, typ protowire.Type, b []byte, v uint64) error {
				switch {
				case num == 2 && typ == protowire.BytesType: // packed values
					for len(b) > 0 {
						x, n := protowire.ConsumeVarint(b)
						if n < 0 {
							return protowire.ParseError(n)
						}
						s.values = append(s.values, x)
						b = b[n:]
					}
				case num == 2 && typ == protowire.VarintType:
					s.values = append(s.values, v)
				case num == 3 && typ == protowire.BytesType: // Sample.label
					var l [2]uint64
					err := eachField(b, func(num protowire.Number, typ protowire.Type, _ []byte, v uint64) error {
						if typ == protowire.VarintType && (num == 1 || num == 2) {
							l[num-1] = v
						}
						return nil
					})
					if err != nil {
						return err
					}
					s.labels = append(s.labels, l)
				}
				return nil
			})
			if err != nil {
				return err
			}
			samples = append(samples, s)
		case num == 6 && typ == protowire.BytesType: // Profile.string_table
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var total, labelled uint64
	for _, s := range samples {
		if len(s.values) == 0 {
			continue
		}
		v := s.values[len(s.values)-1] // the CPU profile's last value is nanoseconds
		total += v
		for _, l := range s.labels {
			if l[0] < uint64(len(strs)) && l[1] < uint64(len(strs)) &&
				strs[l[0]] == key && strs[l[1]] == value {
				labelled += v
				break
			}
		}
	}
	if total == 0 {
		return 0, nil
	}
	return float64(labelled) / float64(total), nil
}

// eachField calls fn for every field of a protocol buffer message: bytes
// fields with their contents, varints with their value.
func eachField(b []byte, fn func(protowire.Number, protowire.Type, []byte, uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var field []byte
		var v uint64
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			field, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, typ, field, v); err != nil {
			return err
		}
	}
	return nil
}

// withClientLabel runs fn with the benchmark client's profiler label, which
// every goroutine fn starts inherits.
func withClientLabel(ctx context.Context, fn func(context.Context)) {
	pprof.Do(ctx, pprof.Labels("role", benchClientLabel), fn)
}
