package deploycheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const deployDir = "../../deploy"

func registered(t *testing.T) map[string]Metric {
	t.Helper()
	reg, err := Registered()
	require.NoError(t, err)
	return reg
}

// TestRegisteredFamilies: the list is read from the code's collectors, with
// types and labels (spot checks of each source).
func TestRegisteredFamilies(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	for name, want := range map[string]Metric{
		"tasker_worker_saturation_ratio":          {Kind: KindGauge, Labels: []string{"worker_id"}, Source: "worker"},
		"tasker_worker_steps_failed_total":        {Kind: KindCounter, Labels: []string{"error_type", "namespace", "worker_id"}, Source: "worker"},
		"tasker_task_duration_seconds":            {Kind: KindHistogram, Labels: []string{"state"}, Source: "orchestration"},
		"tasker_queue_oldest_message_age_seconds": {Kind: KindUnknown, Labels: []string{"queue"}, Source: "orchestration/web"},
		"tasker_http_requests_total":              {Kind: KindCounter, Labels: []string{"method", "route", "status"}, Source: "orchestration/web"},
		"go_goroutines":                           {Kind: KindGauge, Source: "runtime"},
	} {
		got, ok := reg[name]
		require.True(t, ok, "%s not registered", name)
		require.Equal(t, want.Kind, got.Kind, name)
		require.Equal(t, want.Labels, got.Labels, name)
		require.Equal(t, want.Source, got.Source, name)
		require.NotEmpty(t, got.Help, name)
	}
}

// TestNamingConventions is the metric-name review: every series the engine
// registers follows Prometheus naming conventions.
func TestNamingConventions(t *testing.T) {
	t.Parallel()
	require.Empty(t, ConventionProblems(registered(t)))
	bad := map[string]Metric{
		"tasker_steps_done":             {Name: "tasker_steps_done", Kind: KindCounter, Help: "x"},
		"tasker_queue_total":            {Name: "tasker_queue_total", Kind: KindGauge, Help: "x"},
		"tasker_claim_ms":               {Name: "tasker_claim_ms", Kind: KindHistogram, Help: "x"},
		"tasker_batch_latency":          {Name: "tasker_batch_latency", Kind: KindHistogram, Help: "x"},
		"TaskerCamel_total":             {Name: "TaskerCamel_total", Kind: KindCounter, Help: "x"},
		"tasker_undocumented":           {Name: "tasker_undocumented", Kind: KindGauge},
		"tasker_per_instance_something": {Name: "tasker_per_instance_something", Kind: KindGauge, Help: "x", Labels: []string{"instance"}},
	}
	problems := ConventionProblems(bad)
	require.Len(t, problems, len(bad), strings.Join(problems, "\n"))
}

// TestCheckExprFindsMistakes: the expression check reports unknown series,
// unknown labels, suffixes that do not fit the type, and expressions that
// name nothing, and accepts what exists.
func TestCheckExprFindsMistakes(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	for expr, want := range map[string]string{
		`sum(rate(tasker_tasks_created_total{namespace="a"}[5m]))`:                                           "",
		`histogram_quantile(0.9, sum by (le) (rate(tasker_task_duration_seconds_bucket[$__rate_interval])))`: "",
		`max by (queue) (tasker_queue_depth{queue=~"$queue", job="x"})`:                                      "",
		`label_values(tasker_queue_depth, queue)`:                                                            "",
		`sum(rate(tasker_tasks_create_total[5m]))`:                                                           "series tasker_tasks_create_total is not registered",
		`tasker_queue_depth{namespace="a"}`:                                                                  `series tasker_queue_depth has no label "namespace"`,
		`rate(tasker_tasks_created_total_bucket[5m])`:                                                        "series tasker_tasks_created_total_bucket is not registered",
		`tasker_task_duration_seconds_count{le="1"}`:                                                         `has no label "le"`,
		`vector(1) > 0`:               "names no series",
		`count(up{job=~"tasker_.*"})`: "names no series",
	} {
		problems := strings.Join(CheckExpr(expr, reg), "; ")
		if want == "" {
			require.Empty(t, problems, expr)
		} else {
			require.Contains(t, problems, want, expr)
		}
	}
}

// expression is one PromQL expression found in a deployment file.
type expression struct {
	file, where, expr string
}

// dashboardExprs returns the expressions of every panel target and
// templating query of the Grafana dashboards.
func dashboardExprs(t *testing.T) []expression {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "grafana/dashboards/*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards under deploy/grafana/dashboards")
	var out []expression
	for _, f := range files {
		var doc any
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &doc), f)
		walk(doc, "", func(path, key, value string) {
			if key == "expr" || key == "definition" {
				out = append(out, expression{f, path, value})
			}
		})
	}
	return out
}

// yamlExprs returns the values of the given keys anywhere in the YAML
// documents of the files matching pattern.
func yamlExprs(t *testing.T, pattern string, keys ...string) []expression {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, pattern))
	require.NoError(t, err)
	var out []expression
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var doc any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			walk(doc, fmt.Sprintf("doc%d", i), func(path, key, value string) {
				for _, k := range keys {
					if key == k {
						out = append(out, expression{f, path, value})
					}
				}
			})
		}
	}
	return out
}

func walk(v any, path string, visit func(path, key, value string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok {
				visit(path+"."+k, k, s)
			} else {
				walk(x, path+"."+k, visit)
			}
		}
	case []any:
		for i, x := range v {
			walk(x, fmt.Sprintf("%s[%d]", path, i), visit)
		}
	}
}

// TestDeployExpressionsNameRegisteredSeries: every PromQL expression of
// the dashboard, the alerting rules, the prometheus-adapter rules and the
// KEDA triggers names only series and labels the code registers.
func TestDeployExpressionsNameRegisteredSeries(t *testing.T) {
	t.Parallel()
	reg := registered(t)
	sets := map[string][]expression{
		"dashboard":      dashboardExprs(t),
		"alerts":         yamlExprs(t, "prometheus/alerts.yml", "expr"),
		"adapter":        yamlExprs(t, "prometheus/adapter-rules.yaml", "seriesQuery", "metricsQuery"),
		"kubernetes":     yamlExprs(t, "kubernetes/*/*.yaml", "query"),
		"kubernetes-sub": yamlExprs(t, "kubernetes/*/*/*.yaml", "query"),
	}
	// Each source must contribute (a moved file must not silently empty the check).
	for _, k := range []string{"dashboard", "alerts", "adapter"} {
		require.NotEmpty(t, sets[k], "no expressions found for %s", k)
	}
	require.NotEmpty(t, append(sets["kubernetes"], sets["kubernetes-sub"]...), "no KEDA trigger queries found under deploy/kubernetes")
	used := map[string]bool{}
	for _, set := range sets {
		for _, e := range set {
			expr := adapterTemplate.ReplaceAllString(e.expr, "")
			for _, p := range CheckExpr(expr, reg) {
				t.Errorf("%s %s: %s\n  %s", e.file, e.where, p, e.expr)
			}
			for _, r := range Refs(expr) {
				used[r.Name] = true
			}
		}
	}
	// The worker's saturation and the queue signals are what scaling acts on.
	for _, name := range []string{"tasker_worker_saturation_ratio", "tasker_queue_visible_messages", "tasker_queue_oldest_message_age_seconds"} {
		require.True(t, used[name], "%s is not used by any dashboard, rule or scaler", name)
	}
}

// adapterTemplate matches prometheus-adapter's Go templates
// (<<.Series>>, <<.LabelMatchers>>, <<.GroupBy>>) in its metricsQuery.
var adapterTemplate = regexp.MustCompile(`<<[^>]*>>`)

func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install Debian's prometheus package (scripts/ensure-services.sh does) to check the rules")
	}
	return path
}

// TestAlertRules: promtool accepts the alerting rules and their unit tests
// (deploy/prometheus/alerts_test.yml) pass.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	dir := filepath.Join(deployDir, "prometheus")
	out, err := exec.Command(pt, "check", "rules", filepath.Join(dir, "alerts.yml")).CombinedOutput()
	require.NoError(t, err, string(out))
	cmd := exec.Command(pt, "test", "rules", "alerts_test.yml")
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "SUCCESS")
}

// TestEveryAlertIsUnitTested: alerts_test.yml evaluates every alert of
// alerts.yml at least once with an expected firing.
func TestEveryAlertIsUnitTested(t *testing.T) {
	t.Parallel()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	for path, v := range map[string]any{"prometheus/alerts.yml": &rules, "prometheus/alerts_test.yml": &tests} {
		data, err := os.ReadFile(filepath.Join(deployDir, path))
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, v), path)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			require.True(t, fires[r.Alert], "alerts_test.yml never expects %s to fire", r.Alert)
		}
	}
	require.Positive(t, n)
}

// TestDashboardExpressionsParse: promtool parses every dashboard query, once
// Grafana's variables are given values, as recording rules.
func TestDashboardExpressionsParse(t *testing.T) {
	t.Parallel()
	pt := promtool(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", `"$queue"`, `".*"`)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, e := range dashboardExprs(t) {
		if strings.HasPrefix(e.expr, "label_values(") {
			continue // a Grafana function, not PromQL
		}
		n++
		q, err := json.Marshal(vars.Replace(e.expr))
		require.NoError(t, err)
		fmt.Fprintf(&b, "      - record: dashboard:expr%d\n        expr: %s\n", n, q)
	}
	require.Positive(t, n)
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	require.NoError(t, os.WriteFile(f, []byte(b.String()), 0o600))
	out, err := exec.Command(pt, "check", "rules", f).CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, b.String())
}

// TestDashboardStructure: panels have unique ids, fit the 24-column grid,
// and every target uses the dashboard's data source variable.
func TestDashboardStructure(t *testing.T) {
	t.Parallel()
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int                `json:"id"`
			Type    string             `json:"type"`
			Title   string             `json:"title"`
			GridPos struct{ X, W int } `json:"gridPos"`
			Targets []struct {
				RefID      string `json:"refId"`
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	data, err := os.ReadFile(filepath.Join(deployDir, "grafana/dashboards/tasker.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &d))
	require.NotEmpty(t, d.UID)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.RefID, p.Title)
			require.NotEmpty(t, tg.Expr, p.Title)
			require.Equal(t, "${datasource}", tg.Datasource.UID, p.Title)
		}
	}
}

// TestRunbookLinks: every alert links to a section of docs/operations.md
// that exists, and every alert has one.
func TestRunbookLinks(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} (.+)$`).FindAllStringSubmatch(string(doc), -1) {
		slug := strings.ToLower(strings.TrimSpace(m[1]))
		slug = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(slug, "")
		anchors[strings.ReplaceAll(slug, " ", "-")] = true
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	data, err := os.ReadFile(filepath.Join(deployDir, "prometheus/alerts.yml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &rules))
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			u := r.Annotations["runbook_url"]
			_, frag, ok := strings.Cut(u, "docs/operations.md#")
			require.True(t, ok, "%s: runbook_url %q does not point into docs/operations.md", r.Alert, u)
			require.True(t, anchors[frag], "%s: docs/operations.md has no section #%s", r.Alert, frag)
			require.Contains(t, string(doc), "`"+r.Alert+"`", "%s is not described in docs/operations.md", r.Alert)
		}
	}
	require.Positive(t, n)
}
