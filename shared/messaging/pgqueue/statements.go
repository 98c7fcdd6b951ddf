package pgqueue

import (
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// statements are the SQL texts of one queue, built once from the validated
// name.
type statements struct {
	table, index, send, claim, ack, nack, deferUntil, stats, next string
	// routedFew and routedMany are the statements of a routed claim
	// (routes in $3).
	routedFew, routedMany string
}

// claimOf returns the claim statement of o and its arguments: $1 how many,
// $2 the visibility timeout in microseconds, and for a routed claim $3 the
// routes. The statement returns msg_id, read_ct, enqueued_at, vt, message.
func (s *statements) claimOf(o messaging.ClaimOptions) (string, []any) {
	args := []any{o.N, o.Visibility.Microseconds()}
	switch {
	case o.Routes == nil:
		return s.claim, args
	case len(o.Routes) > manyRoutes:
		return s.routedMany, append(args, o.Routes)
	default:
		return s.routedFew, append(args, o.Routes)
	}
}

// receiptArgs splits receipts into the id and read count arrays of the
// ack and nack statements.
func receiptArgs(receipts []messaging.Receipt) ([]int64, []int32) {
	ids := make([]int64, len(receipts))
	reads := make([]int32, len(receipts))
	for i, r := range receipts {
		ids[i], reads[i] = r.ID, int32(r.ReadCount) //nolint:gosec // read_ct is an int4 column: the value came from it
	}
	return ids, reads
}

// manyRoutes is the number of routes above which a routed claim first
// lists the routes that have messages (one index probe per distinct route
// in the queue) instead of probing every route it serves: a worker with
// dozens of handlers whose queue holds messages of a few.
const manyRoutes = 8

// routedClaim is the claim of the messages whose route is in the text[]
// parameter routes. Each route's oldest visible messages are found by a
// walk of the (callable, msg_id) index of their own, the oldest 2*$1 of
// all candidates are kept, and of those the first $1 that no other claim
// holds are locked and claimed (so a claim racing another one still fills
// its batch, and rows are locked only to be taken: a walk per route that
// locked as it went would lock $1 rows per route and take $1 in all).
//
// A walk is written as a row comparison on the index's columns on purpose:
// with an equality on callable the planner may take the primary key's id
// order as good enough and walk the whole queue past other routes'
// messages, or fetch all of a route's messages and sort them; the row
// comparison leaves only an ordered walk of the callable index that stops
// after 2*$1 rows.
//
// With many routes (see manyRoutes) the routes that have messages are found
// first by skipping through the index from one distinct callable to the
// next, and only those the claim serves are walked.
func (s *statements) routedClaim(routes string, many bool) string {
	source := `unnest(` + routes + `::text[]) AS r(route)`
	with, where := "", ""
	if many {
		with = `WITH RECURSIVE present(route) AS (
					(SELECT callable FROM ` + s.table + ` WHERE callable IS NOT NULL ORDER BY callable LIMIT 1)
					UNION ALL
					SELECT (SELECT m.callable FROM ` + s.table + ` m WHERE m.callable > p.route ORDER BY m.callable LIMIT 1)
					FROM present p WHERE p.route IS NOT NULL)
				`
		source = `present r`
		where = ` WHERE r.route = ANY(` + routes + `::text[])`
	}
	return `UPDATE ` + s.table + `
			SET vt = clock_timestamp() + $2 * interval '1 microsecond', read_ct = read_ct + 1
			WHERE msg_id = ANY(ARRAY(
				SELECT msg_id FROM ` + s.table + `
				WHERE msg_id = ANY(ARRAY(
					` + with + `SELECT c.msg_id FROM ` + source + `
					CROSS JOIN LATERAL (
						SELECT msg_id FROM ` + s.table + ` m
						WHERE (m.callable, m.msg_id) > (r.route, 0::bigint) AND m.callable <= r.route
						  AND m.vt <= clock_timestamp()
						ORDER BY m.callable, m.msg_id LIMIT 2 * $1) c` + where + `
					ORDER BY c.msg_id LIMIT 2 * $1))
				  AND vt <= clock_timestamp()
				ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED))
			RETURNING msg_id, read_ct, enqueued_at, vt, message`
}

// nextWindow is how many of a queue's oldest and of its newest messages
// NextVisible looks at.
const nextWindow = 1000

func newStatements(queue string) *statements {
	t := pgx.Identifier{"mq_" + queue}.Sanitize()
	s := &statements{
		table: t,
		index: pgx.Identifier{"mq_" + queue + "_callable"}.Sanitize(),
		// The route is copied from the message as it is written (once per
		// message; claims and acks never recompute it).
		send: `INSERT INTO ` + t + ` (vt, message, callable)
			SELECT now() + $2 * interval '1 microsecond', m, m->>'` + messaging.RouteKey + `' FROM unnest($1::jsonb[]) AS m`,
		// The ids are picked first (an InitPlan) and the rows are then
		// updated by primary key: the plan stays index-driven whatever the
		// statistics say about a table full of dead tuples.
		claim: `UPDATE ` + t + `
			SET vt = clock_timestamp() + $2 * interval '1 microsecond', read_ct = read_ct + 1
			WHERE msg_id = ANY(ARRAY(
				SELECT msg_id FROM ` + t + `
				WHERE vt <= clock_timestamp()
				ORDER BY msg_id LIMIT $1 FOR UPDATE SKIP LOCKED))
			RETURNING msg_id, read_ct, enqueued_at, vt, message`,
		// Acks, nacks and extensions are by receipt: a row is touched only
		// if it was not delivered again since (a read count of 0 or less
		// matches any delivery). The ids are also given as an = ANY so the
		// rows are found by primary key whatever the join's plan.
		ack: `DELETE FROM ` + t + ` AS m USING unnest($1::bigint[], $2::int[]) AS r(id, rc)
			WHERE m.msg_id = r.id AND m.msg_id = ANY($1) AND (r.rc <= 0 OR m.read_ct = r.rc)`,
		// nack serves Nack ($3: the delay) and Extend ($3: the visibility
		// timeout): both set the row's visibility to now + $3.
		nack: `UPDATE ` + t + ` AS m SET vt = clock_timestamp() + $3 * interval '1 microsecond'
			FROM unnest($1::bigint[], $2::int[]) AS r(id, rc)
			WHERE m.msg_id = r.id AND m.msg_id = ANY($1) AND (r.rc <= 0 OR m.read_ct = r.rc)`,
		deferUntil: `UPDATE ` + t + ` SET vt = $3 WHERE msg_id = $1 AND ($2 <= 0 OR read_ct = $2)`,
		stats: `SELECT count(*), count(*) FILTER (WHERE vt <= clock_timestamp()),
			COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(enqueued_at)), 0)::float8 FROM ` + t,
		// The earliest hidden message among the oldest and the newest
		// nextWindow messages, two bounded walks of the primary key: a
		// consumer asks after every claim round that came back short, and
		// a min over the whole table cost a scan of every live and dead
		// row (8 ms per claim round with 250,000 dead rows). A claim that
		// lapses is among the oldest, a delayed send among the newest;
		// one in between of a queue holding more than 2 × nextWindow
		// messages is found by the fallback poll, which looks at all.
		next: `SELECT min(vt) FROM (
				(SELECT vt FROM ` + t + ` ORDER BY msg_id LIMIT ` + strconv.Itoa(nextWindow) + `)
				UNION ALL
				(SELECT vt FROM ` + t + ` ORDER BY msg_id DESC LIMIT ` + strconv.Itoa(nextWindow) + `)) m
			WHERE vt > clock_timestamp()`,
	}
	s.routedFew, s.routedMany = s.routedClaim("$3", false), s.routedClaim("$3", true)
	return s
}
