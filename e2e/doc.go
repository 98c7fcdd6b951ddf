// Package e2e holds the end-to-end tests: tasker-core's fixture workflows
// run through the real orchestration, REST API and native Go worker code
// (in-process), a multi-instance race on hundreds of tasks, and the
// reliability contract checked against real `tasker server` and
// `tasker-worker` processes (SIGKILL and SIGTERM of a busy worker).
package e2e
