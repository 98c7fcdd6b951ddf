package web_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
)

func TestServerStartStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := config.Default(config.ContextOrchestration).Orchestration.Web
	cfg.BindAddress = "127.0.0.1:0"
	srv, err := web.New(web.Options{Core: h.core, Listener: nil, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.Empty(t, srv.Addr())
	require.NoError(t, srv.Start(h.ctx))
	require.Error(t, srv.Start(h.ctx), "started twice")
	base := "http://" + srv.Addr()
	res, err := http.Get(base + "/health")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	idle, err := web.New(web.Options{Core: h.core, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, idle.Stop(h.ctx), "Stop without Start is fine")

	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(ctx))
	require.NoError(t, srv.Stop(ctx), "Stop is idempotent")
	_, err = http.Get(base + "/health") //nolint:bodyclose // no response: the request must fail
	require.Error(t, err, "no longer listening")
	require.Error(t, srv.Start(h.ctx), "a stopped server does not restart")
}

func TestServerStopEndsStreams(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	tr := h.createTask(tpl, input) // no workers: its stream stays open
	srv := h.startListening()
	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, "http://"+srv.Addr()+"/v1/tasks/"+tr.TaskUUID.String()+"/events", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	require.True(t, sc.Scan())
	require.Equal(t, "event: task", sc.Text(), "history arrives through the real server at once")

	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, srv.Stop(ctx))
	require.Less(t, time.Since(start), 2*time.Second, "open streams do not hold up Stop")
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	require.NotContains(t, strings.Join(rest, "\n"), "event: end", "a stream cut by shutdown has no end event")
}

func TestServerDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := config.Default(config.ContextOrchestration).Orchestration.Web
	cfg.Enabled = false
	srv, err := web.New(web.Options{Core: h.core, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, srv.Start(h.ctx))
	require.Empty(t, srv.Addr())
	require.NoError(t, srv.Stop(h.ctx))
}
