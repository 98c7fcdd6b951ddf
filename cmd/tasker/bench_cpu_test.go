package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tasker-go/tasker/shared/testdb"
)

// fakeProfile builds a gzipped profile.proto with the given samples: each
// is a CPU time in nanoseconds and an optional role label.
func fakeProfile(t *testing.T, samples []struct {
	ns   int64
	role string
}) []byte {
	t.Helper()
	strs := []string{"", "samples", "count", "cpu", "nanoseconds", "role", benchClientLabel, "other"}
	index := func(s string) uint64 {
		for i, x := range strs {
			if x == s {
				return uint64(i)
			}
		}
		t.Fatalf("no string %q", s)
		return 0
	}
	var p []byte
	for _, s := range samples {
		var smp []byte
		var vals []byte
		vals = protowire.AppendVarint(vals, 1)
		vals = protowire.AppendVarint(vals, uint64(s.ns))
		smp = protowire.AppendTag(smp, 2, protowire.BytesType)
		smp = protowire.AppendBytes(smp, vals)
		if s.role != "" {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.VarintType)
			l = protowire.AppendVarint(l, index("role"))
			l = protowire.AppendTag(l, 2, protowire.VarintType)
			l = protowire.AppendVarint(l, index(s.role))
			smp = protowire.AppendTag(smp, 3, protowire.BytesType)
			smp = protowire.AppendBytes(smp, l)
		}
		p = protowire.AppendTag(p, 2, protowire.BytesType)
		p = protowire.AppendBytes(p, smp)
	}
	for _, s := range strs {
		p = protowire.AppendTag(p, 6, protowire.BytesType)
		p = protowire.AppendString(p, s)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(p)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestLabelShare: the client's share is the CPU time of its labelled
// samples over all samples' time, whatever other labels say.
func TestLabelShare(t *testing.T) {
	prof := fakeProfile(t, []struct {
		ns   int64
		role string
	}{{30e6, benchClientLabel}, {50e6, ""}, {10e6, benchClientLabel}, {10e6, "other"}})
	share, err := labelShare(prof, "role", benchClientLabel)
	require.NoError(t, err)
	require.InDelta(t, 0.4, share, 1e-9)

	_, err = labelShare([]byte("not a profile"), "role", benchClientLabel)
	require.Error(t, err)
	_, err = labelShare(nil, "role", benchClientLabel)
	require.Error(t, err)
}

// TestParseStat reads the fields the meter needs, also when the command
// name holds spaces and parentheses.
func TestParseStat(t *testing.T) {
	line := "4667 (postgres: a (b) c) S 1 4667 4667 0 -1 4194560 2134 51 0 0 120 35 7 9 20 0 1 0 337 226000000 7000 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	st, err := parseStat(line)
	require.NoError(t, err)
	require.Equal(t, procStat{ppid: 1, utime: 120, stime: 35, cutime: 7, cstime: 9}, st)

	_, err = parseStat("12 (x) S 1 2")
	require.Error(t, err, "a short line")
	_, err = parseStat("garbage")
	require.Error(t, err)

	self, err := readStat(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Getppid(), self.ppid)
}

// TestLocalPostmaster finds the test server's postmaster (it runs on this
// machine) and reads CPU time that grows with work the server does.
func TestLocalPostmaster(t *testing.T) {
	db := testdb.Empty(t)
	conn, err := pgx.Connect(t.Context(), db.URL)
	require.NoError(t, err)
	defer conn.Close(t.Context())

	pid, err := localPostmaster(t.Context(), conn)
	require.NoError(t, err)
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(cmdline), "postgres") || strings.Contains(string(cmdline), "/postgres"),
		"the postmaster is a postgres process: %q", cmdline)

	var backend int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&backend))
	before := treeCPU(pid)
	sessions, err := sessionCPU(t.Context(), conn, "")
	require.NoError(t, err)
	require.NotContains(t, sessions, backend, "the measuring session is not counted")
	// Burn some server CPU in this session, then read the tree again.
	deadline := time.Now().Add(time.Minute)
	for treeCPU(pid) <= before && time.Now().Before(deadline) {
		_, err := conn.Exec(t.Context(), `SELECT count(*) FROM generate_series(1, 2000000)`)
		require.NoError(t, err)
	}
	require.Greater(t, treeCPU(pid), before, "the server's CPU time includes its backends'")
}

// TestMergeCPU adds rounds up from their raw totals.
func TestMergeCPU(t *testing.T) {
	a := &cpuPerStep{steps: 100, wall: time.Second, process: 50 * time.Millisecond, client: 10 * time.Millisecond,
		server: 80 * time.Millisecond, session: 60 * time.Millisecond, haveClient: true, haveServer: true,
		walBytes: 1_000_000, haveWAL: true}
	a.finish(true)
	require.InDelta(t, 500, a.ProcessUS, 0.01)
	require.InDelta(t, 100, *a.ClientUS, 0.01)
	require.InDelta(t, 400, *a.TaskerUS, 0.01)
	require.InDelta(t, 800, *a.PostgresUS, 0.01)
	require.InDelta(t, 0.13, a.CoresBusy, 0.001)
	b := &cpuPerStep{steps: 300, wall: time.Second, process: 90 * time.Millisecond, client: 10 * time.Millisecond,
		server: 120 * time.Millisecond, session: 100 * time.Millisecond, haveClient: true, haveServer: true,
		walBytes: 3_000_000, haveWAL: true}
	b.finish(true)
	require.InDelta(t, 10000, *b.WALBytes, 0.01)
	m := mergeCPU(a, b)
	require.InDelta(t, 350, m.ProcessUS, 0.01)
	require.InDelta(t, 50, *m.ClientUS, 0.01)
	require.InDelta(t, 500, *m.PostgresUS, 0.01)
	require.InDelta(t, 400, *m.SessionsUS, 0.01)
	require.InDelta(t, 10000, *m.WALBytes, 0.01)

	// A round without the client's split or a local server leaves the sum
	// without them.
	c := &cpuPerStep{steps: 100, wall: time.Second, process: 40 * time.Millisecond}
	c.finish(false)
	m = mergeCPU(m, c)
	require.InDelta(t, 360, m.ProcessUS, 0.01)
	require.Nil(t, m.ClientUS)
	require.Nil(t, m.PostgresUS)
	require.Nil(t, m.WALBytes)
}
