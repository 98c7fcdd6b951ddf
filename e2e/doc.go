// Package e2e holds the end-to-end tests: tasker-core's fixture workflows
// run through the real orchestration, REST API and native Go worker code
// (in-process), a multi-instance race on hundreds of tasks, and the
// reliability contract checked against real `tasker server` and
// `tasker-worker` processes (SIGKILL and SIGTERM of a busy worker, SIGKILL
// of an orchestrator in the middle of a result batch, and a restart of a
// private PostgreSQL cluster under a running server and worker).
package e2e
