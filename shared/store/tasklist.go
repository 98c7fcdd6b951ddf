package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// The task list reads tasks newest first, ordered by (created_at,
// task_uuid) descending. Deep pages are read by key (a cursor: the last row
// of the previous page), which costs the same on the first page and the
// ten-thousandth, through tasks_created_at_idx; numbered pages (an OFFSET)
// stay for clients that use them. A correlation id is found through
// tasks_correlation_id_idx and an initiator's tasks through
// tasks_initiator_idx (migration 00012).

// TaskCursor is a position in the task list: the created_at and UUID of a
// task. A page read after it holds older tasks, before it newer ones.
type TaskCursor struct {
	CreatedAt time.Time
	UUID      uuid.UUID
}

// TaskQuery selects one page of the task list for QueryTasks.
type TaskQuery struct {
	Namespace     string
	Name          string
	States        []state.TaskState
	Initiator     string
	SourceSystem  string
	CorrelationID *uuid.UUID
	// CreatedFrom and CreatedTo bound created_at: from inclusive, to
	// exclusive; zero leaves that side open.
	CreatedFrom, CreatedTo time.Time

	// Limit is the page size (default 25).
	Limit int
	// Offset skips rows (numbered pages); ignored with After or Before.
	Offset int
	// After reads the page of tasks older than it; Before the page of
	// tasks newer than it (at most one of them).
	After, Before *TaskCursor

	// CountLimit chooses the count: 0 counts every match exactly, n > 0
	// counts up to n matches (TaskList.CountCapped says there are more),
	// n < 0 counts nothing.
	CountLimit int
}

// TaskList is one page of tasks, newest first.
type TaskList struct {
	Tasks []Task
	// HasOlder and HasNewer say whether tasks matching the query exist
	// past the page's last and before its first row.
	HasOlder, HasNewer bool
	// Count is the number of matches (see TaskQuery.CountLimit), and
	// CountCapped is true when it stopped at the limit.
	Count       int
	CountCapped bool
}

// QueryTasks reads one page of the task list and its count.
func (s *Store) QueryTasks(ctx context.Context, q TaskQuery) (TaskList, error) {
	if q.After != nil && q.Before != nil {
		return TaskList{}, fmt.Errorf("%w: a task list page is read after a cursor or before one, not both", ErrInvalidInput)
	}
	if q.Limit < 1 {
		q.Limit = 25
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var where []string
	if q.Namespace != "" {
		where = append(where, "t.namespace = "+arg(q.Namespace))
	}
	if q.Name != "" {
		where = append(where, "t.named_task_uuid IN (SELECT named_task_uuid FROM named_tasks WHERE name = "+arg(q.Name)+")")
	}
	if len(q.States) > 0 {
		ss := make([]string, len(q.States))
		for i, st := range q.States {
			ss[i] = string(st)
		}
		where = append(where, "t.state = ANY("+arg(ss)+")")
	}
	if q.Initiator != "" {
		where = append(where, "t.initiator = "+arg(q.Initiator))
	}
	if q.SourceSystem != "" {
		where = append(where, "t.source_system = "+arg(q.SourceSystem))
	}
	if q.CorrelationID != nil {
		where = append(where, "t.correlation_id = "+arg(*q.CorrelationID))
	}
	if !q.CreatedFrom.IsZero() {
		where = append(where, "t.created_at >= "+arg(q.CreatedFrom))
	}
	if !q.CreatedTo.IsZero() {
		where = append(where, "t.created_at < "+arg(q.CreatedTo))
	}
	filter, nFilter := slices.Clone(where), len(args)
	order := "DESC"
	switch {
	case q.After != nil:
		c, u := arg(q.After.CreatedAt), arg(q.After.UUID)
		// The first comparison lets the planner bound the index scan.
		where = append(where, "t.created_at <= "+c, "(t.created_at, t.task_uuid) < ("+c+", "+u+")")
	case q.Before != nil:
		c, u := arg(q.Before.CreatedAt), arg(q.Before.UUID)
		where = append(where, "t.created_at >= "+c, "(t.created_at, t.task_uuid) > ("+c+", "+u+")")
		order = "ASC"
	}
	sql := `SELECT ` + taskColumns + taskFrom + whereSQL(where) +
		` ORDER BY t.created_at ` + order + `, t.task_uuid ` + order + ` LIMIT ` + arg(q.Limit+1)
	if q.After == nil && q.Before == nil && q.Offset > 0 {
		sql += ` OFFSET ` + arg(q.Offset)
	}
	b := &pgx.Batch{}
	var out TaskList
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		var err error
		out.Tasks, err = pgx.CollectRows(rows, pgx.RowToStructByName[Task])
		return err
	})
	// The count reads the filter's arguments only: they come first.
	switch {
	case q.CountLimit == 0:
		b.Queue(`SELECT count(*) FROM tasks t `+whereSQL(filter), args[:nFilter]...).QueryRow(func(r pgx.Row) error {
			return r.Scan(&out.Count)
		})
	case q.CountLimit > 0:
		b.Queue(`SELECT count(*) FROM (SELECT 1 FROM tasks t `+whereSQL(filter)+
			fmt.Sprintf(` LIMIT %d) m`, q.CountLimit+1), args[:nFilter]...).QueryRow(func(r pgx.Row) error {
			return r.Scan(&out.Count)
		})
	}
	if err := s.sendPlannedForArgs(ctx, b); err != nil {
		return TaskList{}, fmt.Errorf("listing tasks: %w", err)
	}
	if q.CountLimit > 0 && out.Count > q.CountLimit {
		out.Count, out.CountCapped = q.CountLimit, true
	}
	more := len(out.Tasks) > q.Limit
	if more {
		out.Tasks = out.Tasks[:q.Limit]
	}
	switch {
	case q.Before != nil:
		slices.Reverse(out.Tasks)
		out.HasNewer, out.HasOlder = more, true
	case q.After != nil:
		out.HasOlder, out.HasNewer = more, true
	default:
		out.HasOlder, out.HasNewer = more, q.Offset > 0
	}
	return out, nil
}

// sendPlannedForArgs runs a batch of reads in a read-only transaction
// whose statements are planned for their arguments every time. A cached
// generic plan cannot know that an initiator, a state or a time range is
// rare: with a LIMIT it favours walking tasks_created_at_idx newest first,
// which for a rare value reads the whole table, and it cannot use a
// partial index such as tasks_open_idx. Planning these statements costs
// well under a millisecond.
func (s *Store) sendPlannedForArgs(ctx context.Context, b *pgx.Batch) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_custom_plan"); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func whereSQL(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(conds, " AND ")
}
