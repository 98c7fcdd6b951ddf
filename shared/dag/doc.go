// Package dag holds the rules of a task's step graph, as pure functions
// over data the store loads: which pending steps are ready (every parent
// complete or resolved by hand), how a batch's parallelism holds its
// workers back, when a step may run again (retry eligibility and backoff
// time), what a task's steps add up to (its execution status) and which
// state the task goes to next.
//
// The store loads the rows and writes the outcome; it applies these rules
// between its reads and writes inside one transaction, so the hot paths
// keep their round trips. Where a rule is evaluated in SQL (a state list in
// a WHERE clause, for an index), the list is taken from here and a store
// test ties the two together. Nothing here talks to the database.
package dag
