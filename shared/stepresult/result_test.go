package stepresult

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSuccessAndFailureShapes(t *testing.T) {
	id := uuid.New()
	s := Success(id, json.RawMessage(`{"v":1}`), map[string]any{"k": "v"})
	require.True(t, s.Success)
	require.False(t, s.Retryable(), "a success is never retried")
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"step_uuid":"`+id.String()+`","success":true,"result":{"v":1},"status":"completed",
		"metadata":{"execution_time_ms":0,"retryable":false,"custom":{"k":"v"}}}`, string(b))
	require.JSONEq(t, `{}`, string(Success(id, nil, nil).Result))

	f := Failure(id, StatusFailed, "nope", ErrorTypeRetryable, true)
	require.False(t, f.Success)
	require.True(t, f.Retryable())
	require.Equal(t, "nope", f.Error.Message)
	require.False(t, Failure(id, StatusError, "x", ErrorTypePermanent, false).Retryable())
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Failure(uuid.New(), StatusFailed, "slow down", "RateLimit", true)
	_, ok := r.RetryAfter(now)
	require.False(t, ok)
	r.OrchestrationMetadata = &OrchestrationMetadata{Headers: map[string]string{"retry-after": " 7 "}}
	d, ok := r.RetryAfter(now)
	require.True(t, ok)
	require.Equal(t, 7*time.Second, d)
	r.OrchestrationMetadata.Headers = map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}
	d, ok = r.RetryAfter(now)
	require.True(t, ok)
	require.Equal(t, 90*time.Second, d)
	r.OrchestrationMetadata.Headers = map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}
	d, _ = r.RetryAfter(now)
	require.Zero(t, d, "a date in the past means now")
	r.OrchestrationMetadata.Headers = map[string]string{"Retry-After": "soon"}
	r.OrchestrationMetadata.BackoffHint = &BackoffHint{BackoffType: "RateLimit", DelaySeconds: 2.5}
	d, ok = r.RetryAfter(now)
	require.True(t, ok, "an unreadable header falls back to the backoff hint")
	require.Equal(t, 2500*time.Millisecond, d)
}

func TestParseNeverHangsATask(t *testing.T) {
	for _, raw := range []string{``, `not json`, `[1,2]`} {
		r := Parse(json.RawMessage(raw))
		require.False(t, r.Success, raw)
		require.False(t, r.Retryable(), "an unreadable result is a permanent failure: %q", raw)
		require.Equal(t, ErrorTypeInvalidResult, r.Error.ErrorType)
	}
	ok := Parse(json.RawMessage(`{"success":true,"result":5,"status":"completed"}`))
	require.True(t, ok.Success)
	require.JSONEq(t, `5`, string(ok.Result))
}
