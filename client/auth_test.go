package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
)

// Against a server with authentication on, the client sends its token or
// API key with every call, the event stream included.
func TestCredentials(t *testing.T) {
	key, err := auth.GenerateKey(config.AlgES256, 0)
	require.NoError(t, err)
	pub, err := auth.EncodePublicKeyPEM(key.Public())
	require.NoError(t, err)
	sys := systest.Start(t, systest.Options{Orchestration: func(o *config.Orchestration) {
		o.Web.Auth.Enabled = true
		o.Web.Auth.JWTPublicKey = string(pub)
		o.Web.Auth.APIKeyHeader = "X-Tasker-Key"
		o.Web.Auth.APIKeys = []config.APIKey{{Name: "reader", KeyHash: auth.HashKey("tsk_reader"),
			Permissions: []string{api.PermTasksRead}}}
	}})
	tok, err := auth.Sign(key, auth.TokenSpec{Issuer: "tasker-core", Audience: []string{"tasker-api"}, Subject: "client-test",
		Permissions: []string{api.PermTasksCreate, api.PermTasksRead}, TTL: time.Hour})
	require.NoError(t, err)

	anonymous, err := client.New(sys.URL)
	require.NoError(t, err)
	_, err = anonymous.GetTask(sys.Ctx, uuid.New())
	require.True(t, client.IsUnauthorized(err))
	var ae *client.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, api.CodeUnauthorized, ae.Code)

	c, err := client.New(sys.URL, client.WithToken(tok))
	require.NoError(t, err)
	task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":6}`)})
	require.NoError(t, err)
	final, err := c.Wait(sys.Ctx, task.TaskUUID, nil)
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)

	reader, err := client.New(sys.URL, client.WithAPIKey("tsk_reader"), client.WithAPIKeyHeader("X-Tasker-Key"))
	require.NoError(t, err)
	got, err := reader.GetTask(sys.Ctx, task.TaskUUID)
	require.NoError(t, err)
	require.Equal(t, "complete", got.Status)
	_, err = reader.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "examples_linear", Name: "square_chain",
		Context: json.RawMessage(`{"even_number":6}`)})
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 403, ae.Status)
	require.True(t, client.IsUnauthorized(err))

	wrongHeader, err := client.New(sys.URL, client.WithAPIKey("tsk_reader"))
	require.NoError(t, err)
	_, err = wrongHeader.GetTask(sys.Ctx, task.TaskUUID)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 401, ae.Status, "the key went in X-API-Key, which this server does not read")
}
