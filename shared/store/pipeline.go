package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipeTx is an explicit transaction whose BEGIN travels with its first batch
// and whose COMMIT travels with its last: a transaction of k dependent
// batches costs k round trips. (pgx's Begin and Commit are round trips of
// their own.)
type pipeTx struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	begun bool
	done  bool
}

func (s *Store) pipe(ctx context.Context) (*pipeTx, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquiring a connection: %w", err)
	}
	return &pipeTx{ctx: ctx, conn: conn}, nil
}

func (p *pipeTx) run(b *pgx.Batch, commit bool) error {
	nb := &pgx.Batch{}
	if !p.begun {
		nb.Queue("begin")
		p.begun = true
	}
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	if commit {
		nb.Queue("commit")
	}
	err := Classify(p.conn.SendBatch(p.ctx, nb).Close())
	if err == nil && commit {
		p.done = true
	}
	return err
}

// send runs b inside the transaction.
func (p *pipeTx) send(b *pgx.Batch) error { return p.run(b, false) }

// commit runs b and commits.
func (p *pipeTx) commit(b *pgx.Batch) error { return p.run(b, true) }

// close rolls back unless committed, and gives the connection back. A
// connection left in a broken state is closed rather than reused.
func (p *pipeTx) close() {
	if p.begun && !p.done {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5e9)
		defer cancel()
		if _, err := p.conn.Exec(ctx, "rollback"); err != nil && !errors.Is(err, context.Canceled) {
			_ = p.conn.Conn().Close(ctx)
		}
	}
	p.conn.Release()
}
