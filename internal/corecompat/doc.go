// Package corecompat mirrors, in Go, the Rust types tasker-core's clients
// (crates/tasker-client, with the types of
// crates/tasker-shared/src/types/api and the models they embed) decode
// responses into, and checks a JSON document the way serde would decode it
// into them. The compatibility tests of orchestration/web and worker decode
// every response of both APIs with Check; a response that passes is one
// tasker-core's client accepts.
//
// The mirror is written by hand from the Rust sources, field for field:
//
//   - a Go pointer field is a Rust Option<T>: it may be absent or null;
//   - any other field is required, present and not null, unless tagged
//     `rust:"default"` (#[serde(default)]: it may be absent, but not null);
//   - Value (serde_json::Value) is required but may be any JSON, null
//     included;
//   - integers must be JSON integers within the Rust type's range (int32
//     for i32, uint64 for u64 and usize, …); float64 takes any number;
//   - Uuid must parse as a UUID, DateTimeUtc as RFC 3339 with a zone
//     (chrono's DateTime<Utc>), NaiveDateTime as a date-time without a zone
//     (chrono's NaiveDateTime refuses a trailing Z);
//   - a string field tagged `enum:"A,B"` is a Rust enum: only those
//     spellings decode.
//
// Unknown fields are accepted, as serde accepts them unless a type denies
// them (none of the mirrored types does).
package corecompat
