// Package domainevent carries the domain events step handlers publish
// (docs/events.md): the event envelope, the in-process bus that fast
// delivery uses, and the consumer of the durable per-namespace queues.
//
// A handler publishes through its step context; the event travels with the
// step's result and is published when orchestration commits that result, in
// the same transaction: durable events are written to the queue
// "{namespace}_domain_events", fast events are handed to the in-process Bus
// after the commit. Events of results that are never committed are never
// published, and a redelivered result publishes nothing twice.
package domainevent
