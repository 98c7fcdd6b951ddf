package riverbench

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// stmtCounter is a pgx tracer that counts, on the client side, the
// statements River's pool sends and the transactions they form. Unlike
// pg_stat_database it is not disturbed by other sessions using the same
// database, and it needs no server extension.
//
// A transaction is counted when a statement (or batch, or COPY) starts on a
// connection that is idle, i.e. outside a transaction block: that is either
// an autocommit statement or the BEGIN of an explicit transaction. pgx also
// prepares each new SQL text once per connection (its statement cache); a
// prepare round trip outside a transaction block is a transaction of its own
// on the server, so it is counted as one, but not as a statement.
type stmtCounter struct {
	statements atomic.Int64
	xacts      atomic.Int64
}

var (
	_ pgx.QueryTracer    = (*stmtCounter)(nil)
	_ pgx.BatchTracer    = (*stmtCounter)(nil)
	_ pgx.CopyFromTracer = (*stmtCounter)(nil)
	_ pgx.PrepareTracer  = (*stmtCounter)(nil)
)

func (c *stmtCounter) startUnit(conn *pgx.Conn) {
	if conn.PgConn().TxStatus() == 'I' {
		c.xacts.Add(1)
	}
}

func (c *stmtCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.statements.Add(1)
	c.startUnit(conn)
	return ctx
}

func (c *stmtCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *stmtCounter) TraceBatchStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.startUnit(conn)
	return ctx
}

func (c *stmtCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.statements.Add(1)
}

func (c *stmtCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *stmtCounter) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.statements.Add(1)
	c.startUnit(conn)
	return ctx
}

func (c *stmtCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

func (c *stmtCounter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	return ctx
}

func (c *stmtCounter) TracePrepareEnd(_ context.Context, conn *pgx.Conn, data pgx.TracePrepareEndData) {
	if !data.AlreadyPrepared {
		c.startUnit(conn)
	}
}
