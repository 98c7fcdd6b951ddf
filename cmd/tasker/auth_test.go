package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// runAuth runs `tasker auth ...` in-process.
func runAuth(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "tasker", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newAuthCmd())
	var out bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"auth"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// keygen, then token: the token verifies against the written public key
// (statically and through the written JWKS), with the permissions asked
// for.
func TestAuthKeygenAndToken(t *testing.T) {
	t.Setenv(envPrivateKeyPath, "")
	for _, alg := range []string{config.AlgRS256, config.AlgES256} {
		dir := t.TempDir()
		out, err := runAuth(t, "", "keygen", "--algorithm", alg, "--out-dir", dir, "--jwks")
		require.NoError(t, err)
		require.Contains(t, out, "export TASKER_JWT_PUBLIC_KEY_PATH="+filepath.Join(dir, publicKeyFile))
		info, err := os.Stat(filepath.Join(dir, privateKeyFile))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the private key is the owner's only")
		_, err = runAuth(t, "", "keygen", "--algorithm", alg, "--out-dir", dir)
		requireClientExit(t, err, exitUsage, "exists; give --force")

		privPath := filepath.Join(dir, privateKeyFile)
		out, err = runAuth(t, "", "token", "--private-key", privPath, "--permissions", "tasks:create,dlq:*",
			"--permissions", api.PermStepsRead, "--subject", "ci", "--ttl", "10m")
		require.NoError(t, err)
		tok := strings.TrimSpace(out)

		cfg := config.Default(config.ContextOrchestration).Orchestration.Web.Auth
		cfg.Enabled, cfg.JWTPublicKeyPath = true, filepath.Join(dir, publicKeyFile)
		a, err := auth.New(auth.Options{Config: cfg})
		require.NoError(t, err)
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+tok)
		p, reason, _ := a.Authenticate(r, false)
		require.Empty(t, reason, alg)
		require.Equal(t, "ci", p.Subject)
		require.Equal(t, []string{"tasks:create", "dlq:*", "steps:read"}, p.Permissions)

		var set auth.JWKSet
		data, err := os.ReadFile(filepath.Join(dir, jwksFile)) //nolint:gosec // a test's temporary file
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &set))
		require.Len(t, set.Keys, 1)
		require.Equal(t, alg, set.Keys[0].Alg)
		header, _, _ := strings.Cut(tok, ".")
		require.NotEmpty(t, header)

		// TASKER_JWT_PRIVATE_KEY_PATH stands in for --private-key; "all"
		// grants every resource.
		t.Setenv(envPrivateKeyPath, privPath)
		out, err = runAuth(t, "", "token", "--permissions", "all", "--audience", "tasker-api", "--audience", "worker-api")
		require.NoError(t, err)
		r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
		p, reason, _ = a.Authenticate(r, false)
		require.Empty(t, reason)
		require.True(t, p.Allows(api.PermDLQUpdate))
		t.Setenv(envPrivateKeyPath, "")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--permissions", "tasks:read"}, "--private-key is required"},
		{[]string{"token", "--private-key", "/nonexistent", "--permissions", "tasks:read"}, "--private-key: open /nonexistent"},
		{[]string{"token", "--private-key", "x"}, "--permissions is required"},
		{[]string{"token", "--private-key", "x", "--permissions", "tasks:delete"}, `unknown permission "tasks:delete"`},
		{[]string{"token", "--private-key", "x", "--permissions", "*"}, `unknown permission "*"`},
		{[]string{"token", "--private-key", "x", "--permissions", "tasks:read", "--ttl", "-1m"}, "--ttl must be positive"},
		{[]string{"keygen", "--algorithm", "HS256"}, "want RS256 or ES256"},
		{[]string{"keygen", "--algorithm", "ES256", "--bits", "4096"}, "--bits"},
	} {
		_, err := runAuth(t, "", c.args...)
		requireClientExit(t, err, exitUsage, c.want)
	}
}

func TestAuthHashKey(t *testing.T) {
	const want = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")
	out, err := runAuth(t, "", "hash-key", "abc")
	require.NoError(t, err)
	require.Equal(t, want+"\n", out)
	out, err = runAuth(t, "abc\nignored\n", "hash-key")
	require.NoError(t, err)
	require.Equal(t, want+"\n", out, "the first line of standard input")
	out, err = runAuth(t, "  abc  \n", "hash-key", "-")
	require.NoError(t, err)
	require.Equal(t, want+"\n", out)
	_, err = runAuth(t, "\n", "hash-key")
	requireClientExit(t, err, exitUsage, "empty key")

	out, err = runAuth(t, "", "hash-key", "--generate", "--name", "ci")
	require.NoError(t, err)
	var key, hash string
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "key:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "key_hash:"); ok {
			hash = strings.TrimSpace(v)
		}
	}
	require.Equal(t, auth.HashKey(key), hash)
	require.Contains(t, out, `name = "ci"`)
	// The printed entry loads as configuration.
	entry := out[strings.Index(out, "[[orchestration"):]
	dir := t.TempDir()
	for _, ctx := range []string{"shared", "orchestration", "worker"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ctx), 0o750))
		require.NoError(t, os.WriteFile(filepath.Join(dir, ctx, "base.toml"), nil, 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "orchestration", "base.toml"), []byte(entry), 0o600))
	cfg, err := config.Load(config.LoadOptions{Root: dir, Context: config.ContextOrchestration})
	require.NoError(t, err)
	require.Equal(t, []config.APIKey{{Name: "ci", KeyHash: hash, Permissions: []string{"tasks:read"}}},
		cfg.Orchestration.Web.Auth.APIKeys)
}

func TestAuthPermissions(t *testing.T) {
	out, err := runAuth(t, "", "permissions")
	require.NoError(t, err)
	for _, p := range api.Permissions {
		require.Contains(t, out, p.Name)
	}
	out, err = runAuth(t, "", "permissions", "-o", "json")
	require.NoError(t, err)
	var list []api.PermissionInfo
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Equal(t, api.Permissions, list)
}

// The client commands send --token, --api-key or the credential of the
// environment; without one an auth-enabled server's 401 comes with a hint.
func TestClientCommandsCredentials(t *testing.T) {
	for _, name := range []string{envOrchestrationToken, envWorkerToken, envToken, envAPIKey, envAPIKeyHeader} {
		t.Setenv(name, "")
	}
	key, err := auth.GenerateKey(config.AlgES256, 0)
	require.NoError(t, err)
	pub, err := auth.EncodePublicKeyPEM(key.Public())
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Workers: -1, Orchestration: func(o *config.Orchestration) {
		o.Web.Auth.Enabled = true
		o.Web.Auth.JWTPublicKey = string(pub)
		o.Web.Auth.APIKeys = []config.APIKey{{Name: "lister", KeyHash: auth.HashKey("tsk_lister"),
			Permissions: []string{api.PermTasksList}}}
	}})
	tok, err := auth.Sign(key, auth.TokenSpec{Issuer: "tasker-core", Audience: []string{"tasker-api"},
		Permissions: []string{api.PermTasksList, api.PermTemplatesRead}, TTL: time.Hour})
	require.NoError(t, err)

	_, _, err = runClient(t, "task", "list", "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "(UNAUTHORIZED, HTTP 401)", "pass --token or --api-key")
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--token", tok)
	require.NoError(t, err)
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--api-key", "tsk_lister")
	require.NoError(t, err)
	_, _, err = runClient(t, "template", "list", "--url", sys.URL, "--api-key", "tsk_lister")
	requireClientExit(t, err, exitAPIFailure, "(FORBIDDEN, HTTP 403)", "templates:read", "lacks this permission")
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--token", tok, "--api-key", "tsk_lister")
	requireClientExit(t, err, exitUsage, "give --token or --api-key, not both")

	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(tok+"\n"), 0o600))
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--token", "@"+file)
	require.NoError(t, err)
	_, _, err = runClientIn(t, "tsk_lister\n", "task", "list", "--url", sys.URL, "--api-key", "@-")
	require.NoError(t, err)
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--token", "@/no/such/file")
	requireClientExit(t, err, exitUsage, "--token: open /no/such/file")

	t.Setenv(envAPIKey, "tsk_lister")
	_, _, err = runClient(t, "task", "list", "--url", sys.URL)
	require.NoError(t, err, "TASKER_API_KEY")
	t.Setenv(envToken, "not-a-token")
	_, _, err = runClient(t, "task", "list", "--url", sys.URL)
	requireClientExit(t, err, exitAPIFailure, "HTTP 401")
	t.Setenv(envOrchestrationToken, tok)
	_, _, err = runClient(t, "task", "list", "--url", sys.URL)
	require.NoError(t, err, "TASKER_ORCHESTRATION_AUTH_TOKEN wins over TASKER_AUTH_TOKEN")
	_, _, err = runClient(t, "task", "list", "--url", sys.URL, "--api-key", "tsk_lister")
	require.NoError(t, err, "a flag wins over the environment")
}

func TestCredentialPrecedence(t *testing.T) {
	for _, name := range []string{envOrchestrationToken, envWorkerToken, envToken, envAPIKey, envAPIKeyHeader} {
		t.Setenv(name, "")
	}
	cmd := &cobra.Command{}
	resolve := func(f apiFlags, env string) credentials {
		t.Helper()
		c, err := f.credentials(cmd, env)
		require.NoError(t, err)
		return c
	}
	require.Equal(t, credentials{header: "X-API-Key"}, resolve(apiFlags{}, envOrchestrationToken))
	t.Setenv(envAPIKey, "key")
	t.Setenv(envAPIKeyHeader, "X-Tasker-Key")
	require.Equal(t, credentials{apiKey: "key", header: "X-Tasker-Key"}, resolve(apiFlags{}, envOrchestrationToken))
	t.Setenv(envToken, "shared")
	require.Equal(t, "shared", resolve(apiFlags{}, envOrchestrationToken).token)
	t.Setenv(envOrchestrationToken, "orch")
	t.Setenv(envWorkerToken, "worker")
	require.Equal(t, "orch", resolve(apiFlags{}, envOrchestrationToken).token)
	require.Equal(t, "worker", resolve(apiFlags{}, envWorkerToken).token)
	require.Equal(t, "shared", resolve(apiFlags{}, "").token, "workers never get the orchestration-only token")
	require.Equal(t, credentials{apiKey: "flag", header: "X-Other"}, resolve(apiFlags{apiKey: "flag", apiKeyHeader: "X-Other"}, envOrchestrationToken))
	require.Equal(t, "flag", resolve(apiFlags{token: "flag"}, envOrchestrationToken).token)
}

// system health sends the orchestration credential to the server and the
// worker credential (--worker-token, TASKER_WORKER_AUTH_TOKEN) to workers,
// whose tokens carry another audience.
func TestSystemHealthCredentials(t *testing.T) {
	for _, name := range []string{envOrchestrationToken, envWorkerToken, envToken, envAPIKey, envAPIKeyHeader} {
		t.Setenv(name, "")
	}
	key, err := auth.GenerateKey(config.AlgES256, 0)
	require.NoError(t, err)
	pub, err := auth.EncodePublicKeyPEM(key.Public())
	require.NoError(t, err)
	enable := func(a *config.WebAuth) { a.Enabled, a.JWTPublicKey = true, string(pub) }
	sys := systest.Start(t, systest.Options{
		Orchestration: func(o *config.Orchestration) { enable(&o.Web.Auth) },
		Worker:        func(w *config.Worker) { enable(&w.Web.Auth) },
	})
	worker := httptest.NewServer(sys.Workers[0].HTTPHandler())
	t.Cleanup(func() {
		worker.CloseClientConnections()
		worker.Close()
	})
	sign := func(aud string) string {
		tok, err := auth.Sign(key, auth.TokenSpec{Issuer: "tasker-core", Audience: []string{aud},
			Permissions: []string{api.PermSystemRead}, TTL: time.Hour})
		require.NoError(t, err)
		return tok
	}
	orch, wrk := sign("tasker-api"), sign("worker-api")

	out, _, err := runClient(t, "system", "health", "--url", sys.URL, "--worker-url", worker.URL, "--token", orch)
	requireClientExit(t, err, exitAPIFailure, "worker "+worker.URL+" unreachable")
	require.Contains(t, out, "HTTP 401", "the orchestration token is not for workers")

	out, _, err = runClient(t, "system", "health", "--url", sys.URL, "--worker-url", worker.URL, "--token", orch,
		"--worker-token", wrk)
	require.NoError(t, err, out)
	require.Regexp(t, `Namespaces\s+.*examples_linear`, out)

	t.Setenv(envOrchestrationToken, orch)
	t.Setenv(envWorkerToken, wrk)
	out, _, err = runClient(t, "system", "health", "--url", sys.URL, "--worker-url", worker.URL)
	require.NoError(t, err, out)
}
