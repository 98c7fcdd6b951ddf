// Package rabbitmq holds the building blocks of the RabbitMQ queue backend
// (AMQP 0.9.1): a connection manager that reconnects on its own, the queue
// topology (durable quorum queues, a dead-letter queue per queue, delays
// through TTL bucket queues), a publisher with confirms, a consumer with
// manual acks and a run-time prefetch, and the relay that publishes the
// PostgreSQL message outbox.
//
// Messages are signals that carry identifiers; PostgreSQL holds the truth.
// Delivery is at least once: a message can arrive twice (a relay that died
// between the broker's confirm and deleting its outbox row publishes again;
// a consumer whose connection broke before its ack gets the message again),
// and consumers drop duplicates because every state change they make is a
// compare-and-swap. docs/rabbitmq.md describes the design.
//
// Client owns the one AMQP connection; Publisher, Consumer and Relay open
// channels on it and come back by themselves after the connection does.
package rabbitmq
