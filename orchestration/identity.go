package orchestration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Identity strategies (docs/templates.md, identity strategies).
const (
	IdentityStrict         = "strict"
	IdentityCallerProvided = "caller_provided"
	IdentityAlwaysUnique   = "always_unique"
)

// identityHash decides a task's identity. strict: SHA-256 of the template id
// and the normalized context (object keys sorted, compact); caller_provided:
// of the template id and the request's idempotency_key, which is then
// required; always_unique: a fresh random id. A request idempotency_key
// overrides any strategy. Two requests with the same identity conflict.
func identityHash(strategy string, namedTask uuid.UUID, ctx json.RawMessage, key string) (string, error) {
	h := sha256.New()
	h.Write(namedTask[:])
	switch {
	case key != "":
		h.Write([]byte("\x00key\x00" + key))
	case strategy == IdentityAlwaysUnique:
		return "u:" + uuid.NewString(), nil
	case strategy == IdentityCallerProvided:
		var ve ValidationError
		ve.add("/idempotency_key", "is required: this template's identity_strategy is caller_provided")
		return "", &ve
	default:
		norm, err := normalizeJSON(ctx)
		if err != nil {
			return "", err
		}
		h.Write([]byte("\x00ctx\x00"))
		h.Write(norm)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// normalizeJSON re-encodes JSON with object keys sorted and no whitespace,
// keeping numbers exactly as written.
func normalizeJSON(raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("normalizing context: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("normalizing context: %w", err)
	}
	return out, nil
}
