package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LivenessSession is a worker process's proof of life: a session-level
// advisory lock held on a connection of its own, outside the pool, for as
// long as the process lives. PostgreSQL releases the lock the moment the
// session ends, so when the process dies its lock is free, and orchestration
// finds the steps claimed under it (the lock key is recorded with each claim,
// see Claimer) and makes them claimable at once (ClaimsInFlight,
// ExpireDeadClaims) instead of waiting for their claim deadline. The
// connection sends no queries while it holds the lock.
type LivenessSession struct {
	conn *pgx.Conn
	key  int64
}

// NewLivenessKey returns a random liveness lock key: positive, 63 random
// bits, so the keys of two processes never meet in practice and a key is
// never shared by two processes that happen to use one worker id.
func NewLivenessKey() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("choosing a liveness key: %w", err)
	}
	k := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if k == 0 {
		k = 1
	}
	return k, nil
}

// HoldLiveness opens a dedicated connection (with the pool's settings) and
// takes the session-level advisory lock key on it. It returns ErrConflict
// when another session holds the key.
func (s *Store) HoldLiveness(ctx context.Context, key int64) (*LivenessSession, error) {
	if key <= 0 {
		return nil, fmt.Errorf("%w: liveness key must be positive, got %d", ErrInvalidInput, key)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("opening the liveness connection: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		closeQuietly(ctx, conn)
		return nil, fmt.Errorf("taking the liveness lock: %w", err)
	}
	if !got {
		closeQuietly(ctx, conn)
		return nil, fmt.Errorf("liveness lock %d is held by another session: %w", key, ErrConflict)
	}
	return &LivenessSession{conn: conn, key: key}, nil
}

// Key is the lock key.
func (l *LivenessSession) Key() int64 { return l.key }

// Wait blocks until the session ends (the connection broke, the server shut
// down or terminated it) or ctx ends, and returns why. It sends nothing: it
// only reads the connection, so it learns of the loss as soon as the socket
// does.
func (l *LivenessSession) Wait(ctx context.Context) error {
	for {
		if err := l.conn.PgConn().WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("liveness connection lost: %w", err)
		}
	}
}

// Close ends the session, which releases the lock.
func (l *LivenessSession) Close(ctx context.Context) error {
	if err := l.conn.Close(ctx); err != nil {
		return fmt.Errorf("closing the liveness connection: %w", err)
	}
	return nil
}

func closeQuietly(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	// The connection is being abandoned after a failure; an error closing
	// it changes nothing (the server ends the session either way).
	_ = conn.Close(ctx)
}

// heldLockSQL is true when a session of this database holds the liveness
// lock whose key is the expression %s (session locks on a bigint key show in
// pg_locks as classid = high half, objid = low half, objsubid = 1).
const heldLockSQL = `EXISTS (SELECT 1 FROM pg_locks l
	WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
	  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND l.classid = (%[1]s >> 32)::oid AND l.objid = (%[1]s & 4294967295)::oid)`
