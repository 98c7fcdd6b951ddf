package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/tasker-go/tasker/shared/config"
)

// API keys are high-entropy random secrets, not passwords: nobody can
// guess one, so a slow password hash (bcrypt, scrypt, argon2) would add
// nothing against an attacker who reads the configuration, while costing
// every request milliseconds of CPU. A plain SHA-256 is preimage
// resistant, which is all a stored key hash needs.

// maxAPIKeyLen bounds the header value hashed per request.
const maxAPIKeyLen = 512

// HashKey returns the configuration form of an API key's hash:
// "sha256:" and 64 lowercase hexadecimal digits.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return config.KeyHashPrefix + hex.EncodeToString(sum[:])
}

// GenerateAPIKey returns a new random API key: "tsk_" and 43 base64url
// characters (256 bits).
func GenerateAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating an API key: %w", err)
	}
	return "tsk_" + b64.EncodeToString(b[:]), nil
}

// apiKey is one configured key.
type apiKey struct {
	name        string
	hash        [sha256.Size]byte
	permissions []string
}

// parseAPIKeys decodes the configured hashes (already validated by the
// config package).
func parseAPIKeys(keys []config.APIKey) ([]apiKey, error) {
	out := make([]apiKey, 0, len(keys))
	for _, k := range keys {
		raw, err := hex.DecodeString(strings.TrimPrefix(k.KeyHash, config.KeyHashPrefix))
		if err != nil || len(raw) != sha256.Size || !strings.HasPrefix(k.KeyHash, config.KeyHashPrefix) {
			return nil, fmt.Errorf("api key %q: key_hash is not \"sha256:\" and 64 hexadecimal digits", k.Name)
		}
		e := apiKey{name: k.Name, permissions: k.Permissions}
		copy(e.hash[:], raw)
		out = append(out, e)
	}
	return out, nil
}

// matchAPIKey finds the configured key whose hash is the presented key's.
// Every configured hash is compared, in constant time, whatever matches.
func matchAPIKey(keys []apiKey, presented string) (apiKey, bool) {
	sum := sha256.Sum256([]byte(presented))
	var found apiKey
	match := 0
	for _, k := range keys {
		eq := subtle.ConstantTimeCompare(sum[:], k.hash[:])
		if eq == 1 {
			found = k
		}
		match |= eq
	}
	return found, match == 1
}
