package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// noSeqScans opens every pipelined transaction. Those transactions are the
// engine's state changes, whose every statement finds its rows by key
// (task, step, message ids): a sequential scan is never the plan meant for
// them. The store's connections plan a prepared statement once, at its first
// execution (plan_cache_mode force_generic_plan, see ParseConnConfig), and
// on a fresh or young schema that first plan saw tables of a few pages,
// which makes scanning them look cheaper than probing their indexes; the
// plan then stayed until the next ANALYZE while the tables grew.
const noSeqScans = "SET LOCAL enable_seqscan = off"

// pipeTx is an explicit transaction whose BEGIN travels with its first batch
// and whose COMMIT travels with its last: a transaction of k dependent
// batches costs k round trips. (pgx's Begin and Commit are round trips of
// their own.)
//
// An error returned by a pipeTx means nothing was committed. The server runs
// a batch's statements before the Go side reads any of their results, so a
// COMMIT sent with a batch whose result callbacks (row reads, scans, checks)
// can still fail would commit writes the caller is then told failed. commit
// therefore pipelines the COMMIT only with a batch that has no result
// callbacks other than captures (see outbox.capture: they only copy bytes,
// and cannot fail); otherwise the COMMIT follows in a round trip of its own,
// once every callback succeeded. Hot paths (ClaimNext, result processing)
// read everything they need in earlier batches, so their last batch carries
// the COMMIT.
//
// The connection is taken from the pool when the first batch is sent, not
// before: a unit of work that waits for a broker's deliveries before its
// first statement (a claim on the rabbitmq backend) holds no connection
// while it waits, so a broker outage cannot drain the pool that handlers
// and heartbeats need.
type pipeTx struct {
	ctx   context.Context
	pool  dbPool
	conn  *pgxpool.Conn
	begun bool
	done  bool
}

func (s *Store) pipe(ctx context.Context) *pipeTx {
	return &pipeTx{ctx: ctx, pool: s.pool}
}

func (p *pipeTx) run(b *pgx.Batch, commit bool, captures map[*pgx.QueuedQuery]bool) error {
	if p.conn == nil {
		conn, err := p.pool.Acquire(p.ctx)
		if err != nil {
			return fmt.Errorf("acquiring a connection: %w", err)
		}
		p.conn = conn
	}
	nb := &pgx.Batch{}
	if !p.begun {
		nb.Queue("begin")
		nb.Queue(noSeqScans)
		p.begun = true
	}
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	separate := commit && hasCallbacks(b, captures)
	if commit && !separate {
		nb.Queue("commit")
	}
	if err := Classify(p.conn.SendBatch(p.ctx, nb).Close()); err != nil {
		return err
	}
	if separate {
		if _, err := p.conn.Exec(p.ctx, "commit"); err != nil {
			return Classify(err)
		}
	}
	if commit {
		p.done = true
	}
	return nil
}

// hasCallbacks reports whether any statement of b but the captures has a
// result callback: Go code that runs on its result and may fail after the
// server ran it.
func hasCallbacks(b *pgx.Batch, captures map[*pgx.QueuedQuery]bool) bool {
	for _, q := range b.QueuedQueries {
		if q.Fn != nil && !captures[q] {
			return true
		}
	}
	return false
}

// send runs b inside the transaction.
func (p *pipeTx) send(b *pgx.Batch) error { return p.run(b, false, nil) }

// commit runs b and commits; see pipeTx for when that takes a second round
// trip.
func (p *pipeTx) commit(b *pgx.Batch) error { return p.run(b, true, nil) }

// close rolls back unless committed, and gives the connection back. A
// connection left in a broken state is closed rather than reused.
func (p *pipeTx) close() {
	if p.conn == nil {
		return
	}
	if p.begun && !p.done {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5e9)
		defer cancel()
		if _, err := p.conn.Exec(ctx, "rollback"); err != nil && !errors.Is(err, context.Canceled) {
			_ = p.conn.Conn().Close(ctx)
		}
	}
	p.conn.Release()
}
