package api

import "time"

// OverviewResponse is the system at a glance (GET /v1/analytics/overview):
// tasks per state now, tasks created and finished per time bucket over a
// recent window with the latency of those that completed, and the live
// workers with the steps each is running.
type OverviewResponse struct {
	GeneratedAt   time.Time        `json:"generated_at"`
	TasksByState  map[string]int64 `json:"tasks_by_state" doc:"Every task state, with its count of tasks"`
	TotalTasks    int64            `json:"total_tasks"`
	OpenTasks     int64            `json:"open_tasks" doc:"Tasks not in a terminal state"`
	BucketSeconds int              `json:"bucket_seconds"`
	Buckets       []ActivityBucket `json:"buckets" doc:"Oldest first; the last one holds now"`
	Workers       []WorkerLoad     `json:"workers" doc:"Live workers (their process holds its liveness lock)"`
	// WorkerCapacity sums the handler capacity of the live workers whose
	// capacity is known; WorkerInProgressSteps their steps in progress;
	// WorkerSaturation is one divided by the other (null when no live
	// worker reports its capacity).
	WorkerCapacity        int64    `json:"worker_capacity" doc:"The summed max_concurrent of the live workers that report it"`
	WorkerInProgressSteps int64    `json:"worker_in_progress_steps" doc:"The steps in progress on those workers"`
	WorkerSaturation      *float64 `json:"worker_saturation" doc:"worker_in_progress_steps / worker_capacity; null when no live worker reports its capacity"`
}

// ActivityBucket is one time bucket of the overview's window. Finished
// tasks are counted in the bucket of their last transition.
type ActivityBucket struct {
	Start            time.Time `json:"start"`
	Created          int64     `json:"created"`
	Completed        int64     `json:"completed"`
	Failed           int64     `json:"failed" doc:"Tasks that ended in error"`
	Cancelled        int64     `json:"cancelled"`
	ResolvedManually int64     `json:"resolved_manually"`
	// OpenAtEnd is the number of open tasks at the bucket's end, derived
	// from today's open count and the tasks created and finished since.
	OpenAtEnd         int64    `json:"open_at_end" doc:"Open tasks at the bucket's end (derived from the present count and the tasks created and finished since)"`
	LatencyP50Seconds *float64 `json:"latency_p50_seconds" doc:"Creation to completion of the tasks that completed in the bucket; null when none did"`
	LatencyP95Seconds *float64 `json:"latency_p95_seconds"`
}

// WorkerLoad is a live worker and the steps it holds in progress.
type WorkerLoad struct {
	WorkerID        string    `json:"worker_id"`
	Namespaces      []string  `json:"namespaces"`
	Callables       []string  `json:"callables" doc:"null: every callable of its namespaces"`
	StartedAt       time.Time `json:"started_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	InProgressSteps int64     `json:"in_progress_steps"`
	// Capacity is the most step handlers the worker runs at once (its
	// handlers.max_concurrent); ConcurrencyLimit the limit in force now
	// (lower while an adaptive worker runs below its ceiling). Both are
	// null for a worker that does not report them (older than the
	// capacity columns).
	Capacity         *int `json:"capacity" doc:"The worker's handlers.max_concurrent; null when it does not report it"`
	ConcurrencyLimit *int `json:"concurrency_limit" doc:"The handler limit in force now (an adaptive worker's current limit); null when unknown"`
	// Saturation is InProgressSteps / Capacity (1: the worker takes no more).
	Saturation *float64 `json:"saturation" doc:"in_progress_steps / capacity; null when the capacity is unknown"`
}

// WhoAmIResponse tells a caller what its credential is allowed (GET
// /v1/auth/whoami), so that a client can offer only what will be allowed.
type WhoAmIResponse struct {
	// AuthEnabled is false when the server checks no credential: every
	// route is allowed.
	AuthEnabled bool   `json:"auth_enabled"`
	Subject     string `json:"subject,omitempty" doc:"The token's subject or the API key's name"`
	Kind        string `json:"kind,omitempty" doc:"bearer, query_token or api_key"`
	// Permissions are those the credential grants, as configured
	// (resource wildcards included); with authentication off, every
	// resource's wildcard.
	Permissions []string `json:"permissions"`
}
