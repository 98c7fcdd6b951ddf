// Package auth authenticates and authorizes requests to Tasker's REST APIs
// (the orchestration API and the worker API), configured by a
// config.WebAuth section.
//
// A caller presents one credential:
//
//   - a JWT in "Authorization: Bearer <token>", signed with RS256 or ES256
//     and verified with a static public key or the keys of a JWKS URL
//     (fetched, cached and rotated in the background; see jwks.go). The
//     token's iss, aud, exp, nbf and iat are checked with a small clock
//     skew, and its permissions claim lists the "resource:action"
//     permissions it grants;
//   - an API key in the configured header (X-API-Key), matched in constant
//     time against the SHA-256 hashes in the configuration, each key with
//     its own permissions;
//   - on routes that allow it, a JWT in the access_token query parameter
//     (for browsers' EventSource, which cannot send headers).
//
// Every route declares the permission it needs in a Routes table; the
// Middleware looks the request's route up in it before anything else runs
// (before the body is read). A request without a valid credential gets
// 401, one whose credential lacks the permission 403, and a route missing
// from the table is refused to everyone (403) so that a route added
// without a declaration cannot be left open. The permission vocabulary is
// package api's.
//
// Nothing here logs a credential: failures are logged with their reason,
// route, and the token's subject or the API key's name when known.
package auth
