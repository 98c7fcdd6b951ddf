// Package orchestration is the orchestration service: it turns task requests
// into step graphs, drives every task to a terminal state and keeps the
// system healthy.
//
// Core owns the moving parts: the result processor and the task request
// processor (queue consumers that work in batches and wake on NOTIFY), and
// three cluster-wide loops that run on one elected instance — the readiness
// poller (re-sends messages that went missing), the reconciler (re-drives
// tasks a crashed instance left behind) and the staleness detector (moves
// stuck tasks to error and opens a DLQ investigation); they back off while
// they find nothing (loop.go). Leader election (leader.go) costs no
// periodic queries. Several Cores can run
// against one database with no coordination beyond PostgreSQL: per-task work
// is serialised by a row lock inside each transaction.
package orchestration
