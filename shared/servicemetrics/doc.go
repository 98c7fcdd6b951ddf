// Package servicemetrics holds the Prometheus pieces the services share:
// registration that lets a second registrant count into the series already
// exported, and the result series (step results processed, tasks finished)
// that orchestration and workers both export, since a worker processes its
// own plain successes (see store.CompleteAndProcessSteps).
package servicemetrics
