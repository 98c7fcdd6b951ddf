package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/google/uuid"
)

// TaskSummary returns a task in one answer: its execution context, its
// template's steps, each step's state and last error, its DLQ status.
func (c *Client) TaskSummary(ctx context.Context, id uuid.UUID) (*TaskSummary, error) {
	var out TaskSummary
	return &out, c.do(ctx, "GET", "/v1/tasks/"+id.String()+"/summary", nil, nil, &out)
}

// InvestigationQueue returns pending DLQ entries, the most urgent first
// (limit 0: the server's default).
func (c *Client) InvestigationQueue(ctx context.Context, limit int) ([]InvestigationEntry, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []InvestigationEntry
	return out, c.do(ctx, "GET", "/v1/dlq/investigation-queue", q, nil, &out)
}

// PerformanceMetrics returns the figures of the last hours (0: the
// server's default, 24).
func (c *Client) PerformanceMetrics(ctx context.Context, hours int) (*PerformanceMetrics, error) {
	q := url.Values{}
	if hours > 0 {
		q.Set("hours", strconv.Itoa(hours))
	}
	var out PerformanceMetrics
	return &out, c.do(ctx, "GET", "/v1/analytics/performance", q, nil, &out)
}

// Bottlenecks returns the slowest steps and templates (zero values: the
// server's defaults).
func (c *Client) Bottlenecks(ctx context.Context, limit, minExecutions, hours int) (*BottleneckAnalysis, error) {
	q := url.Values{}
	for k, v := range map[string]int{"limit": limit, "min_executions": minExecutions, "hours": hours} {
		if v > 0 {
			q.Set(k, strconv.Itoa(v))
		}
	}
	var out BottleneckAnalysis
	return &out, c.do(ctx, "GET", "/v1/analytics/bottlenecks", q, nil, &out)
}

// Config returns the server's configuration with its secrets redacted.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	var out Config
	return &out, c.do(ctx, "GET", "/config", nil, nil, &out)
}
