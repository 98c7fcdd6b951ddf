package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/sync/errgroup"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// analyticsMaxTasks caps the tasks one analytics answer reads (the newest
// of the window); answers over a larger window say truncated.
const analyticsMaxTasks = 10000

type performanceInput struct {
	Hours int `query:"hours" default:"24" minimum:"1" maximum:"720" doc:"Hours to look back (at most 720, 30 days)"`
}

type performanceOutput struct {
	Body api.PerformanceMetrics
}

type bottleneckInput struct {
	Limit         int `query:"limit" default:"10" minimum:"1" maximum:"100" doc:"Slow steps and slow templates to return, each"`
	MinExecutions int `query:"min_executions" default:"5" minimum:"1" maximum:"1000000" doc:"Executions a step or template needs to be ranked"`
	Hours         int `query:"hours" default:"24" minimum:"1" maximum:"720" doc:"Hours to look back (at most 720)"`
}

type bottleneckOutput struct {
	Body api.BottleneckAnalysis
}

func (s *Server) analyticsRoutes() {
	tags := []string{"analytics"}
	register(s, huma.Operation{
		OperationID: "getPerformanceMetrics", Method: http.MethodGet, Path: "/v1/analytics/performance", Tags: tags,
		Summary: "Task and step figures over the last hours",
		Description: fmt.Sprintf("Computed from the tasks created in the window (the newest %d at most; "+
			"truncated says when there were more) and the results their steps reported.", analyticsMaxTasks),
	}, []int{400}, s.performance)
	register(s, huma.Operation{
		OperationID: "getBottlenecks", Method: http.MethodGet, Path: "/v1/analytics/bottlenecks", Tags: tags,
		Summary: "The slowest template steps and templates, with recommendations",
	}, []int{400}, s.bottlenecks)
}

func window(hours int, now time.Time) store.AnalyticsWindow {
	return store.AnalyticsWindow{Since: now.Add(-time.Duration(hours) * time.Hour), MaxTasks: analyticsMaxTasks}
}

func (s *Server) performance(ctx context.Context, in *performanceInput) (*performanceOutput, error) {
	now := time.Now().UTC()
	w := window(in.Hours, now)
	p, err := s.store.PerformanceMetrics(ctx, w)
	if err != nil {
		return nil, err
	}
	out := api.PerformanceMetrics{
		TotalTasks: p.TotalTasks, ActiveTasks: p.ActiveTasks, CompletedTasks: p.CompletedTasks,
		FailedTasks: p.FailedTasks, AverageTaskDurationSeconds: p.AverageTaskSeconds,
		AverageStepDurationSeconds: p.AverageStepSeconds,
		TasksPerHour:               p.TotalTasks / int64(in.Hours), StepsPerHour: p.StepResults / int64(in.Hours),
		AnalysisPeriodStart: api.RFC3339(w.Since), CalculatedAt: api.RFC3339(now), Hours: in.Hours,
		Truncated: p.Truncated,
	}
	if finished := p.TotalTasks - p.ActiveTasks; p.TotalTasks > 0 {
		out.CompletionRate = float64(p.CompletedTasks) / float64(p.TotalTasks)
		out.ErrorRate = float64(p.FailedTasks) / float64(p.TotalTasks)
		// The health score weighs finished work: the share of finished
		// tasks that completed, less half the error rate; 1 with nothing
		// finished yet.
		out.SystemHealthScore = 1
		if finished > 0 {
			out.SystemHealthScore = max(0, float64(p.CompletedTasks)/float64(finished)-out.ErrorRate/2)
		}
	} else {
		out.SystemHealthScore = 1
	}
	return &performanceOutput{Body: out}, nil
}

func (s *Server) bottlenecks(ctx context.Context, in *bottleneckInput) (*bottleneckOutput, error) {
	w := window(in.Hours, time.Now().UTC())
	var (
		steps     []store.SlowStep
		tasks     []store.SlowTask
		counts    store.StateCounts
		truncated bool
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { steps, err = s.store.SlowSteps(gctx, w, in.MinExecutions, in.Limit); return err })
	g.Go(func() (err error) { tasks, err = s.store.SlowTasks(gctx, w, in.MinExecutions, in.Limit); return err })
	g.Go(func() (err error) { counts, err = s.store.WindowStateCounts(gctx, w); return err })
	g.Go(func() (err error) { truncated, err = s.store.WindowTruncated(gctx, w); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := api.BottleneckAnalysis{SlowSteps: []api.SlowStepInfo{}, SlowTasks: []api.SlowTaskInfo{},
		Recommendations: []string{}, Hours: in.Hours, Truncated: truncated}
	for _, x := range steps {
		out.SlowSteps = append(out.SlowSteps, api.SlowStepInfo{NamespaceName: x.Namespace, TaskName: x.TaskName,
			Version: x.Version, StepName: x.StepName, AverageDurationSeconds: x.AverageSeconds,
			MaxDurationSeconds: x.MaxSeconds, ExecutionCount: x.Executions, ErrorCount: x.Errors,
			ErrorRate: ratio(x.Errors, x.Executions), LastExecutedAt: rfc3339Ptr(x.LastExecutedAt)})
	}
	for _, x := range tasks {
		out.SlowTasks = append(out.SlowTasks, api.SlowTaskInfo{NamespaceName: x.Namespace, TaskName: x.TaskName,
			Version: x.Version, AverageDurationSeconds: x.AverageSeconds, MaxDurationSeconds: x.MaxSeconds,
			ExecutionCount: x.Executions, AverageStepCount: x.AverageSteps, ErrorCount: x.Errors,
			ErrorRate: ratio(x.Errors, x.Executions), LastExecutedAt: rfc3339Ptr(x.LastExecutedAt)})
	}
	ps := s.store.Pool().Stat()
	if ps.MaxConns() > 0 {
		out.ResourceUtilization.DatabasePoolUtilization = float64(ps.AcquiredConns()) / float64(ps.MaxConns())
	}
	out.ResourceUtilization.SystemHealth = healthCounts(counts)
	out.Recommendations = recommendations(out)
	return &bottleneckOutput{Body: out}, nil
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func rfc3339Ptr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := api.RFC3339(*t)
	return &s
}

func healthCounts(c store.StateCounts) api.SystemHealthCounts {
	t, st := c.Tasks, c.Steps
	h := api.SystemHealthCounts{
		PendingTasks: t[state.TaskPending], InitializingTasks: t[state.TaskInitializing],
		EnqueuingStepsTasks: t[state.TaskEnqueuingSteps], StepsInProcessTasks: t[state.TaskStepsInProcess],
		EvaluatingResultsTasks: t[state.TaskEvaluatingResults], WaitingForDependenciesTasks: t[state.TaskWaitingForDependencies],
		WaitingForRetryTasks: t[state.TaskWaitingForRetry], BlockedByFailuresTasks: t[state.TaskBlockedByFailures],
		CompleteTasks: t[state.TaskComplete], ErrorTasks: t[state.TaskError], CancelledTasks: t[state.TaskCancelled],
		ResolvedManuallyTasks: t[state.TaskResolvedManually],
		PendingSteps:          st[state.StepPending], EnqueuedSteps: st[state.StepEnqueued], InProgressSteps: st[state.StepInProgress],
		EnqueuedForOrchestrationSteps:        st[state.StepEnqueuedForOrchestration],
		EnqueuedAsErrorForOrchestrationSteps: st[state.StepEnqueuedAsErrorForOrchestration],
		WaitingForRetrySteps:                 st[state.StepWaitingForRetry], CompleteSteps: st[state.StepComplete],
		ErrorSteps: st[state.StepError], CancelledSteps: st[state.StepCancelled],
		ResolvedManuallySteps: st[state.StepResolvedManually],
	}
	for _, n := range t {
		h.TotalTasks += n
	}
	for _, n := range st {
		h.TotalSteps += n
	}
	return h
}

// recommendations turns the analysis into advice: error-prone steps and
// templates, the slowest step, a busy pool, blocked tasks.
func recommendations(b api.BottleneckAnalysis) []string {
	out := []string{}
	for _, x := range b.SlowSteps {
		if x.ErrorRate >= 0.1 {
			out = append(out, fmt.Sprintf("step %s of %s/%s fails %.0f%% of its executions: review its handler and retry policy",
				x.StepName, x.NamespaceName, x.TaskName, x.ErrorRate*100))
		}
	}
	if len(b.SlowSteps) > 0 {
		x := b.SlowSteps[0]
		out = append(out, fmt.Sprintf("the slowest step is %s of %s/%s (see slow_steps for its figures)",
			x.StepName, x.NamespaceName, x.TaskName))
	}
	for _, x := range b.SlowTasks {
		if x.ErrorRate >= 0.1 {
			out = append(out, fmt.Sprintf("%.0f%% of %s/%s tasks end in error", x.ErrorRate*100, x.NamespaceName, x.TaskName))
		}
	}
	if b.ResourceUtilization.DatabasePoolUtilization >= poolDegradedAt {
		out = append(out, "the database pool is nearly exhausted: raise database.pool.max_connections")
	}
	if n := b.ResourceUtilization.SystemHealth.BlockedByFailuresTasks; n > 0 {
		out = append(out, fmt.Sprintf("%d tasks are blocked by failures: fix their steps (PATCH .../workflow_steps/{step_uuid}) or cancel them", n))
	}
	return out
}
