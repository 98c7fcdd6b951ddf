package web_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration/web"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	seq := h.fixture("rust/mathematical_sequence.yaml")
	dia := h.fixture("rust/diamond_pattern.yaml")

	res := h.do(http.MethodGet, "/v1/templates", nil)
	require.Equal(t, http.StatusOK, res.status)
	var all api.TemplateListResponse
	res.json(t, &all)
	require.Equal(t, 2, all.TotalCount)
	require.Contains(t, all.Templates, api.TemplateSummary{Name: seq.Name, Namespace: seq.NamespaceName,
		Version: seq.Version, Description: seq.Description, StepCount: 4})
	names := map[string]int{}
	for _, ns := range all.Namespaces {
		names[ns.Name] = ns.TemplateCount
	}
	require.Equal(t, 1, names[seq.NamespaceName])
	require.Equal(t, 1, names[dia.NamespaceName])

	res = h.do(http.MethodGet, "/v1/templates?namespace="+dia.NamespaceName, nil)
	var one api.TemplateListResponse
	res.json(t, &one)
	require.Equal(t, 1, one.TotalCount)
	require.Equal(t, dia.Name, one.Templates[0].Name)
	require.Len(t, one.Namespaces, 1)

	res = h.do(http.MethodGet, "/v1/templates/"+seq.NamespaceName+"/"+seq.Name+"/"+seq.Version, nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var detail api.TemplateResponse
	res.json(t, &detail)
	require.Equal(t, seq.Name, detail.Name)
	require.Equal(t, seq.Version, detail.Version)
	var steps []map[string]any
	require.NoError(t, json.Unmarshal(detail.Steps, &steps))
	require.Len(t, steps, 4)
	require.Equal(t, "linear_step_1", steps[0]["name"])
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(detail.Configuration, &cfg))
	require.Equal(t, seq.Name, cfg["name"])

	h.do(http.MethodGet, "/v1/templates/"+seq.NamespaceName+"/"+seq.Name+"/9.9.9", nil).
		requireError(t, http.StatusNotFound, web.CodeNotFound)
	h.do(http.MethodGet, "/v1/templates/nowhere/nothing/1.0.0", nil).requireError(t, http.StatusNotFound, web.CodeNotFound)
}
