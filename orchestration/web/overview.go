package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// overviewCacheFor is how long an overview answer is reused for the same
// window: dashboards refresh every few seconds, and however many are open
// the database computes the figures at most once per this interval.
const overviewCacheFor = 2 * time.Second

type overviewInput struct {
	Minutes       int `query:"minutes" default:"60" minimum:"1" maximum:"10080" doc:"The window, in minutes (at most a week)"`
	BucketSeconds int `query:"bucket_seconds" default:"60" minimum:"1" maximum:"86400" doc:"The width of a time bucket; the window holds at most 500 buckets"`
}

type overviewOutput struct {
	Body api.OverviewResponse
}

type whoamiOutput struct {
	Body api.WhoAmIResponse
}

// overviewCache keeps the last overview answer per window.
type overviewCache struct {
	mu   sync.Mutex
	last map[[2]int]cachedOverview
}

type cachedOverview struct {
	at  time.Time
	out api.OverviewResponse
}

func (s *Server) overviewRoutes() {
	register(s, huma.Operation{
		OperationID: "getOverview", Method: http.MethodGet, Path: "/v1/analytics/overview", Tags: []string{"analytics"},
		Summary: "Tasks per state, tasks created and finished over time, latency and workers",
		Description: "One answer for a dashboard's overview: every state's task count, the tasks created and finished " +
			"per bucket over the window with the latency of those that completed, and the live workers with the " +
			"steps each runs against its handler capacity (saturation). Answers are reused for up to 2 seconds.",
	}, []int{400}, s.overview)
	register(s, huma.Operation{
		OperationID: "whoami", Method: http.MethodGet, Path: "/v1/auth/whoami", Tags: []string{"auth"},
		Summary:     "The caller's subject and permissions",
		Description: "Open to every valid credential, so that a client can offer only what the credential allows.",
	}, nil, s.whoami)
}

func (s *Server) overview(ctx context.Context, in *overviewInput) (*overviewOutput, error) {
	buckets := (in.Minutes*60 + in.BucketSeconds - 1) / in.BucketSeconds
	if buckets > 500 {
		return nil, invalidParam("bucket_seconds", "%d-second buckets make %d buckets over %d minutes: at most 500",
			in.BucketSeconds, buckets, in.Minutes)
	}
	key := [2]int{buckets, in.BucketSeconds}
	s.overviews.mu.Lock()
	c, ok := s.overviews.last[key]
	s.overviews.mu.Unlock()
	if ok && time.Since(c.at) < overviewCacheFor {
		return &overviewOutput{Body: c.out}, nil
	}
	a, err := s.store.Activity(ctx, store.ActivityWindow{Buckets: buckets, Bucket: time.Duration(in.BucketSeconds) * time.Second})
	if err != nil {
		return nil, err
	}
	out := overviewView(a, in.BucketSeconds)
	s.overviews.mu.Lock()
	if s.overviews.last == nil || len(s.overviews.last) > 16 {
		s.overviews.last = map[[2]int]cachedOverview{}
	}
	s.overviews.last[key] = cachedOverview{at: time.Now(), out: out}
	s.overviews.mu.Unlock()
	return &overviewOutput{Body: out}, nil
}

// overviewView shapes the store's figures, deriving the open tasks at each
// bucket's end backwards from the present count.
func overviewView(a store.Activity, bucketSeconds int) api.OverviewResponse {
	out := api.OverviewResponse{GeneratedAt: time.Now().UTC(), TasksByState: map[string]int64{},
		BucketSeconds: bucketSeconds, Buckets: make([]api.ActivityBucket, len(a.Buckets)), Workers: []api.WorkerLoad{}}
	for st, n := range a.TasksByState {
		out.TasksByState[string(st)] = n
		out.TotalTasks += n
		if !st.Terminal() {
			out.OpenTasks += n
		}
	}
	open := out.OpenTasks
	for i := len(a.Buckets) - 1; i >= 0; i-- {
		b := a.Buckets[i]
		v := api.ActivityBucket{Start: b.Start.UTC(), Created: b.Created,
			Completed: b.Finished[state.TaskComplete], Failed: b.Finished[state.TaskError],
			Cancelled: b.Finished[state.TaskCancelled], ResolvedManually: b.Finished[state.TaskResolvedManually],
			OpenAtEnd: open, LatencyP50Seconds: b.LatencyP50, LatencyP95Seconds: b.LatencyP95}
		out.Buckets[i] = v
		// Going back past this bucket: its new tasks were not there yet,
		// its finished ones were still open.
		open = max(0, open-v.Created+v.Completed+v.Failed+v.Cancelled+v.ResolvedManually)
	}
	for _, w := range a.Workers {
		v := api.WorkerLoad{WorkerID: w.WorkerID, Namespaces: w.Namespaces,
			Callables: w.Callables, StartedAt: w.StartedAt, LastSeenAt: w.LastSeenAt, InProgressSteps: w.InProgressSteps}
		if w.MaxConcurrent > 0 {
			v.Capacity = &w.MaxConcurrent
			v.Saturation = share(w.InProgressSteps, int64(w.MaxConcurrent))
			out.WorkerCapacity += int64(w.MaxConcurrent)
			out.WorkerInProgressSteps += w.InProgressSteps
		}
		if w.ConcurrencyLimit > 0 {
			v.ConcurrencyLimit = &w.ConcurrencyLimit
		}
		out.Workers = append(out.Workers, v)
	}
	out.WorkerSaturation = share(out.WorkerInProgressSteps, out.WorkerCapacity)
	return out
}

// share is n/d, nil when d is 0.
func share(n, d int64) *float64 {
	if d <= 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

func (s *Server) whoami(ctx context.Context, _ *struct{}) (*whoamiOutput, error) {
	out := api.WhoAmIResponse{AuthEnabled: s.authn.Enabled(), Permissions: []string{}}
	if !out.AuthEnabled {
		for _, r := range api.PermissionResources {
			out.Permissions = append(out.Permissions, r+":*")
		}
		return &whoamiOutput{Body: out}, nil
	}
	if p := auth.FromContext(ctx); p != nil {
		out.Subject, out.Kind = p.Subject, p.Kind
		out.Permissions = append(out.Permissions, p.Permissions...)
	}
	return &whoamiOutput{Body: out}, nil
}
