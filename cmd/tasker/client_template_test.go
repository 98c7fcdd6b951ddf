package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/systest"
)

func TestTemplateListShow(t *testing.T) {
	sys := systest.Start(t, systest.Options{Workers: -1})
	out, _, err := runClient(t, "template", "list", "--url", sys.URL)
	require.NoError(t, err)
	require.Regexp(t, `NAMESPACE\s+NAME\s+VERSION\s+STEPS\s+DESCRIPTION`, out)
	require.Regexp(t, `examples_linear\s+square_chain\s+1.0.0\s+4\s+`, out)
	require.Regexp(t, `examples_errors\s+permanent_error\s+1.0.0\s+1\s+`, out)
	require.Regexp(t, `\n\d+ template\(s\) in \d+ namespace\(s\)\n$`, out)

	out, _, err = runClient(t, "template", "list", "--namespace", "examples_linear", "--url", sys.URL, "-o", "json")
	require.NoError(t, err)
	var list struct {
		Templates []struct{ Namespace, Name string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.NotEmpty(t, list.Templates)
	for _, tpl := range list.Templates {
		require.Equal(t, "examples_linear", tpl.Namespace)
	}

	out, _, err = runClient(t, "template", "show", "examples_linear", "square_chain", "1.0.0", "--url", sys.URL)
	require.NoError(t, err)
	require.Contains(t, out, "Template      examples_linear/square_chain/1.0.0")
	require.Regexp(t, `Input schema\s+\{.*even_number`, out)
	require.Regexp(t, `STEP\s+TYPE\s+HANDLER\s+DEPENDS ON\s+RETRY\s+TIMEOUT`, out)
	require.Regexp(t, `linear_step_1\s+standard\s+\S+\s+-\s+`, out)
	require.Regexp(t, `linear_step_2\s+standard\s+\S+\s+linear_step_1\s+`, out)

	out, _, err = runClient(t, "template", "show", "examples_linear", "square_chain", "1.0.0", "--url", sys.URL, "-o", "json")
	require.NoError(t, err)
	got := cliJSON(t, out)
	require.Equal(t, "square_chain", got["name"])
	require.Len(t, got["steps"], 4)
}
