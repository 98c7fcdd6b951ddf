package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	hashA = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	hashB = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
)

const apiKeysTOML = `
[orchestration.web.auth]
enabled = true

[[orchestration.web.auth.api_keys]]
name = "ci"
key_hash = "` + hashA + `"
permissions = ["tasks:create", "tasks:read"]

[[orchestration.web.auth.api_keys]]
name = "ops"
key_hash = "${OPS_KEY_HASH}"
permissions = ["dlq:*"]
`

func TestAPIKeysLoadAsArraysOfTables(t *testing.T) {
	root := writeTree(t, map[string]string{"orchestration/base.toml": apiKeysTOML})
	cfg, err := Load(LoadOptions{Root: root, Context: ContextOrchestration, Environ: []string{"OPS_KEY_HASH=" + hashB}})
	require.NoError(t, err)
	a := cfg.Orchestration.Web.Auth
	require.True(t, a.Enabled)
	require.Equal(t, []APIKey{
		{Name: "ci", KeyHash: hashA, Permissions: []string{"tasks:create", "tasks:read"}},
		{Name: "ops", KeyHash: hashB, Permissions: []string{"dlq:*"}},
	}, a.APIKeys, "${VAR} is substituted inside array tables")
	require.Equal(t, "tasker-core", a.JWTIssuer, "the rest keeps its defaults")

	// Round trip through MarshalTOML and MarshalJSON.
	data, err := cfg.MarshalTOML()
	require.NoError(t, err)
	require.Contains(t, string(data), "\n[[orchestration.web.auth.api_keys]]\nname = \"ci\"\n")
	again, err := Load(LoadOptions{Root: writeTree(t, map[string]string{"orchestration/base.toml": string(data)}),
		Context: ContextOrchestration})
	require.NoError(t, err, "output:\n%s", data)
	require.Equal(t, cfg, again)
	js, err := cfg.MarshalJSON()
	require.NoError(t, err)
	var doc struct {
		Orchestration struct {
			Web struct {
				Auth struct {
					APIKeys []APIKey `json:"api_keys"`
				} `json:"auth"`
			} `json:"web"`
		} `json:"orchestration"`
	}
	require.NoError(t, json.Unmarshal(js, &doc))
	require.Len(t, doc.Orchestration.Web.Auth.APIKeys, 2)

	// Clone copies the lists.
	c := cfg.Clone()
	c.Orchestration.Web.Auth.APIKeys[0].Permissions[0] = "changed"
	require.Equal(t, "tasks:create", cfg.Orchestration.Web.Auth.APIKeys[0].Permissions[0])

	// An environment file replaces the list whole, like every array.
	root = writeTree(t, map[string]string{"orchestration/base.toml": apiKeysTOML, "orchestration/environments/test.toml": `
[[orchestration.web.auth.api_keys]]
name = "test-only"
key_hash = "` + hashB + `"
permissions = []
`})
	cfg, err = Load(LoadOptions{Root: root, Context: ContextOrchestration, Env: EnvTest, Environ: []string{"OPS_KEY_HASH=" + hashB}})
	require.NoError(t, err)
	require.Equal(t, []APIKey{{Name: "test-only", KeyHash: hashB, Permissions: []string{}}}, cfg.Orchestration.Web.Auth.APIKeys)
}

func TestAPIKeysFromTheEnvironment(t *testing.T) {
	cfg, err := Load(LoadOptions{Context: ContextWorker, Environ: []string{
		"TASKER__WORKER__WEB__AUTH__API_KEYS=" + `[{"name": "probe", "key_hash": "` + hashA + `", "permissions": ["worker:templates_read"]}]`,
	}})
	require.NoError(t, err)
	require.Equal(t, []APIKey{{Name: "probe", KeyHash: hashA, Permissions: []string{"worker:templates_read"}}},
		cfg.Worker.Web.Auth.APIKeys)

	_, err = Load(LoadOptions{Context: ContextWorker, Environ: []string{"TASKER__WORKER__WEB__AUTH__API_KEYS=probe"}})
	requireProblem(t, err, "environment variable TASKER__WORKER__WEB__AUTH__API_KEYS", "want a JSON array of objects")
	_, err = Load(LoadOptions{Context: ContextWorker, Environ: []string{"TASKER__WORKER__WEB__AUTH__API_KEYS=[1]"}})
	requireProblem(t, err, "worker.web.auth.api_keys", "element 1 is integer 1")

	cfg, err = Load(LoadOptions{Context: ContextOrchestration, Overrides: map[string]any{"orchestration": map[string]any{
		"web": map[string]any{"auth": map[string]any{"api_keys": []map[string]any{{"name": "code", "key_hash": hashB}}}}}}})
	require.NoError(t, err)
	require.Equal(t, "code", cfg.Orchestration.Web.Auth.APIKeys[0].Name)
}

func TestWebAuthValidation(t *testing.T) {
	for _, c := range []struct {
		name, ctx, toml string
		want            []string
	}{
		{"key hash not a hash", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "tsk_the-key-itself"`, []string{"orchestration.web.auth.api_keys[0].key_hash", `must be "sha256:" and 64 lowercase hexadecimal digits`}},
		{"unknown permission", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashA + `"
permissions = ["tasks:delete"]`, []string{"api_keys[0].permissions", `unknown permission "tasks:delete"`}},
		{"global wildcard", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashA + `"
permissions = ["*"]`, []string{`unknown permission "*"`}},
		{"same name twice", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashA + `"
[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashB + `"`, []string{"api_keys[1].name", `name "x" is used by two keys`}},
		{"same key twice", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashA + `"
[[orchestration.web.auth.api_keys]]
name = "y"
key_hash = "` + hashA + `"`, []string{"api_keys[1].key_hash", `the same key as "x"`}},
		{"misspelt key in an entry", "orchestration", `[[orchestration.web.auth.api_keys]]
name = "x"
key_hash = "` + hashA + `"
permisions = []`, []string{`unknown key "orchestration.web.auth.api_keys[0].permisions"`, `did you mean "orchestration.web.auth.api_keys[0].permissions"`}},
		{"api_keys not tables", "orchestration", `[orchestration.web.auth]
api_keys = ["` + hashA + `"]`, []string{"orchestration.web.auth.api_keys", "expected an array of tables, but element 1 is string"}},
		{"docs on a worker", "worker", `[worker.web.auth]
public_endpoints = ["health", "docs"]`, []string{"worker.web.auth.public_endpoints", `unknown endpoint group "docs": want "health" or "metrics"`}},
		{"query tokens on a worker", "worker", `[worker.web.auth]
query_token_endpoints = ["events"]`, []string{"worker.web.auth.query_token_endpoints", "this API has none"}},
		{"http JWKS", "orchestration", `[orchestration.web.auth]
jwks_url = "http://idp.example/jwks.json"`, []string{"orchestration.web.auth.jwks_url", "must be https"}},
		{"two key sources", "orchestration", `[orchestration.web.auth]
jwks_url = "https://idp.example/jwks.json"
jwt_public_key_path = "/etc/key.pem"`, []string{"set only one of jwt_public_key, jwt_public_key_path and jwks_url"}},
		{"HS256", "orchestration", `[orchestration.web.auth]
jwt_allowed_algorithms = ["RS256", "HS256"]`, []string{`unsupported algorithm "HS256"`}},
		{"large skew", "orchestration", `[orchestration.web.auth]
jwt_clock_skew = "1h"`, []string{"jwt_clock_skew", "at most 5m"}},
		{"api key in Authorization", "worker", `[worker.web.auth]
api_key_header = "authorization"`, []string{"api_key_header", "must not be Authorization"}},
		{"no issuer", "worker", `[worker.web.auth]
jwt_issuer = ""`, []string{"worker.web.auth.jwt_issuer", "must not be empty"}},
		{"public key not PEM", "orchestration", `[orchestration.web.auth]
jwt_public_key = "MIIBIjANBg"`, []string{"jwt_public_key", "must be PEM text"}},
	} {
		root := writeTree(t, map[string]string{c.ctx + "/base.toml": c.toml})
		_, err := Load(LoadOptions{Root: root, Context: c.ctx})
		requireProblem(t, err, c.want...)
		require.NotContains(t, err.Error(), "tsk_the-key-itself", "%s: a pasted key is never echoed", c.name)
	}
	// jwks_url over http is fine for local tests when allowed.
	root := writeTree(t, map[string]string{"orchestration/base.toml": `[orchestration.web.auth]
jwks_url = "http://127.0.0.1:9999/jwks.json"
jwks_url_allow_http = true`})
	_, err := Load(LoadOptions{Root: root, Context: ContextOrchestration})
	require.NoError(t, err)
}

func TestAuthDefaults(t *testing.T) {
	o := Default(ContextOrchestration).Orchestration.Web.Auth
	w := Default(ContextWorker).Worker.Web.Auth
	require.False(t, o.Enabled)
	require.False(t, w.Enabled)
	require.Equal(t, "tasker-api", o.JWTAudience)
	require.Equal(t, "worker-api", w.JWTAudience)
	require.Equal(t, []string{"health", "metrics", "docs"}, o.PublicEndpoints)
	require.Equal(t, []string{"health", "metrics"}, w.PublicEndpoints)
	for _, ctx := range []string{ContextOrchestration, ContextWorker} {
		cfg, err := Load(LoadOptions{Context: ctx, Env: EnvProduction})
		require.NoError(t, err)
		if ctx == ContextOrchestration {
			require.True(t, cfg.Orchestration.Web.Auth.Enabled, "production turns auth on")
		} else {
			require.True(t, cfg.Worker.Web.Auth.Enabled, "production turns auth on")
		}
		cfg, err = Load(LoadOptions{Context: ctx, Env: EnvProduction, Environ: []string{
			"TASKER_JWT_PUBLIC_KEY_PATH=/etc/tasker/jwt-public-key.pem"}})
		require.NoError(t, err)
		path := ""
		if ctx == ContextOrchestration {
			path = cfg.Orchestration.Web.Auth.JWTPublicKeyPath
		} else {
			path = cfg.Worker.Web.Auth.JWTPublicKeyPath
		}
		require.Equal(t, "/etc/tasker/jwt-public-key.pem", path)
	}
	require.True(t, strings.HasPrefix(KeyHashPrefix, "sha256"))
}
