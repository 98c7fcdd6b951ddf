package deploy

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var overlays = []string{"development", "production", "production-hpa"}

// externalSecrets are the secrets an operator creates before applying an
// overlay (docs/deploy.md), by overlay; optional volumes need none.
var externalSecrets = map[string][]string{
	"production":     {"tasker-database"},
	"production-hpa": {"tasker-database"},
}

func kedaSchema(t *testing.T) *Schema {
	t.Helper()
	s, err := LoadCRDSchema("testdata/keda/keda.sh_scaledobjects.yaml", "v1alpha1")
	require.NoError(t, err)
	return s
}

// built is one overlay, resolved and decoded.
type built struct {
	objs        []Object
	deployments map[string]*appsv1.Deployment
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	policies    []*networkingv1.NetworkPolicy
	jobs        []*batchv1.Job
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	scaled      []Object
}

func buildOverlay(t *testing.T, name string) *built {
	t.Helper()
	objs, err := Build(filepath.Join("kubernetes/overlays", name))
	require.NoError(t, err)
	b := &built{objs: objs, deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}}
	keda := kedaSchema(t)
	for _, o := range objs {
		if o.Kind() == "ScaledObject" {
			require.NoError(t, keda.Validate(o))
			b.scaled = append(b.scaled, o)
			continue
		}
		v, err := Decode(o)
		require.NoError(t, err)
		switch v := v.(type) {
		case *appsv1.Deployment:
			b.deployments[v.Name] = v
		case *corev1.ConfigMap:
			b.configMaps[v.Name] = v
		case *corev1.Secret:
			b.secrets[v.Name] = v
		case *corev1.Service:
			b.services = append(b.services, v)
		case *policyv1.PodDisruptionBudget:
			b.pdbs = append(b.pdbs, v)
		case *networkingv1.NetworkPolicy:
			b.policies = append(b.policies, v)
		case *batchv1.Job:
			b.jobs = append(b.jobs, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.hpas = append(b.hpas, v)
		}
	}
	return b
}

// TestOverlaysDecodeStrictly: every overlay builds, every object decodes
// strictly into its API type (ScaledObjects against KEDA's CRD schema), and
// each lands in the overlay's namespace.
func TestOverlaysDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, name := range overlays {
		b := buildOverlay(t, name)
		require.NotEmpty(t, b.deployments, name)
		for _, o := range b.objs {
			if o.Kind() != "Namespace" {
				require.NotEmpty(t, o.Namespace(), "%s: %s has no namespace", name, o.ID())
			}
		}
	}
}

// taskerPods returns the pod templates of the Tasker workloads.
func (b *built) taskerPods() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for n, d := range b.deployments {
		if strings.HasPrefix(n, "tasker-") {
			out["Deployment/"+n] = &d.Spec.Template
		}
	}
	for _, j := range b.jobs {
		out["Job/"+j.Name] = &j.Spec.Template
	}
	return out
}

// TestPodsAreLockedDown: Tasker pods run as non-root with a read-only root
// file system, no privilege escalation, no capabilities, the runtime's
// seccomp profile, no service account token, requests and memory limits.
func TestPodsAreLockedDown(t *testing.T) {
	t.Parallel()
	for _, name := range overlays {
		b := buildOverlay(t, name)
		pods := b.taskerPods()
		require.Len(t, pods, 3, "%s: orchestration, worker and migration", name)
		for id, p := range pods {
			s := p.Spec
			where := name + " " + id
			require.NotNil(t, s.SecurityContext, where)
			require.True(t, *s.SecurityContext.RunAsNonRoot, where)
			require.NotZero(t, *s.SecurityContext.RunAsUser, where)
			require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, s.SecurityContext.SeccompProfile.Type, where)
			require.False(t, *s.AutomountServiceAccountToken, where)
			require.Equal(t, "tasker", p.Labels["app.kubernetes.io/part-of"], "%s: the default-deny policy selects on this label", where)
			for _, c := range s.Containers {
				sc := c.SecurityContext
				require.NotNil(t, sc, where)
				require.False(t, *sc.AllowPrivilegeEscalation, where)
				require.True(t, *sc.ReadOnlyRootFilesystem, where)
				require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, where)
				require.False(t, c.Resources.Requests.Cpu().IsZero(), where)
				require.False(t, c.Resources.Requests.Memory().IsZero(), where)
				require.False(t, c.Resources.Limits.Memory().IsZero(), where)
				require.NotContains(t, []string{"tasker", "tasker-worker"}, c.Image, "%s: the images transformer did not apply", where)
			}
		}
	}
}

// envOf returns the environment a container gets from its envFrom
// ConfigMaps and env literals.
func (b *built) envOf(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		require.NotNil(t, ef.ConfigMapRef, c.Name)
		cm, ok := b.configMaps[ef.ConfigMapRef.Name]
		require.True(t, ok, "%s: envFrom ConfigMap %s does not exist", c.Name, ef.ConfigMapRef.Name)
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// TestProbesAndShutdownBudgets: the Deployments probe /health/live and
// /health/ready on their HTTP port, sleep in preStop while endpoints
// drain, and give the pod at least the preStop sleep plus the configured
// shutdown budget (plus the worker's second to commit results) before it
// is killed.
func TestProbesAndShutdownBudgets(t *testing.T) {
	t.Parallel()
	budgets := map[string]struct {
		env, bind string
		extra     time.Duration
	}{
		"tasker-orchestration": {"TASKER__ORCHESTRATION__SHUTDOWN_TIMEOUT", "TASKER__ORCHESTRATION__WEB__BIND_ADDRESS", 0},
		"tasker-worker":        {"TASKER__WORKER__SHUTDOWN_GRACE", "TASKER__WORKER__WEB__BIND_ADDRESS", time.Second},
	}
	for _, name := range overlays {
		b := buildOverlay(t, name)
		for dname, budget := range budgets {
			d, ok := b.deployments[dname]
			require.True(t, ok, "%s: no Deployment %s", name, dname)
			require.Len(t, d.Spec.Template.Spec.Containers, 1)
			c := d.Spec.Template.Spec.Containers[0]
			where := name + " " + dname
			port := c.Ports[0]
			require.Equal(t, "http", port.Name, where)
			for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/health/live", c.ReadinessProbe: "/health/ready", c.StartupProbe: "/health/live"} {
				require.NotNil(t, probe, where)
				require.Equal(t, path, probe.HTTPGet.Path, where)
				require.Equal(t, "http", probe.HTTPGet.Port.String(), where)
			}
			env := b.envOf(t, c)
			require.Equal(t, fmt.Sprintf(":%d", port.ContainerPort), env[budget.bind], "%s: the process must listen on the probed port", where)
			raw, ok := env[budget.env]
			require.True(t, ok, "%s: %s is not set, so the budget the grace period is sized for is not the one in force", where, budget.env)
			shutdown, err := time.ParseDuration(raw)
			require.NoError(t, err, where)
			require.NotNil(t, c.Lifecycle.PreStop.Sleep, "%s: preStop sleep", where)
			preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
			require.GreaterOrEqual(t, grace, preStop+shutdown+budget.extra+time.Second,
				"%s: terminationGracePeriodSeconds %v < preStop %v + shutdown %v + %v", where, grace, preStop, shutdown, budget.extra)
			wantEnv := map[string]string{"development": "development"}[name]
			if wantEnv == "" {
				wantEnv = "production"
			}
			require.Equal(t, wantEnv, env["TASKER_ENV"], where)
		}
		require.EqualValues(t, 2, *b.deployments["tasker-orchestration"].Spec.Replicas, name)
	}
}

// TestReferencesResolve: every ConfigMap and Secret a pod names exists in
// the overlay (or is one the operator creates, or optional), with the key
// it reads; every Service and PodDisruptionBudget selects a Deployment's
// pods, and every Service's target port is a named container port.
func TestReferencesResolve(t *testing.T) {
	t.Parallel()
	for _, name := range overlays {
		b := buildOverlay(t, name)
		for id, p := range b.taskerPods() {
			where := name + " " + id
			for _, c := range p.Spec.Containers {
				b.envOf(t, c)
				for _, e := range c.Env {
					if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						continue
					}
					ref := e.ValueFrom.SecretKeyRef
					s, ok := b.secrets[ref.Name]
					if !ok {
						require.Contains(t, externalSecrets[name], ref.Name, "%s: secret %s is neither in the overlay nor created by the operator", where, ref.Name)
						continue
					}
					_, ok = s.Data[ref.Key]
					require.True(t, ok, "%s: secret %s has no key %s", where, ref.Name, ref.Key)
				}
			}
			for _, v := range p.Spec.Volumes {
				if v.Secret != nil {
					_, ok := b.secrets[v.Secret.SecretName]
					require.True(t, ok || (v.Secret.Optional != nil && *v.Secret.Optional), "%s: volume secret %s", where, v.Secret.SecretName)
				}
			}
		}
		selects := func(sel map[string]string) []string {
			var hits []string
			for n, d := range b.deployments {
				if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
					hits = append(hits, n)
				}
			}
			return hits
		}
		for _, s := range b.services {
			hits := selects(s.Spec.Selector)
			require.Len(t, hits, 1, "%s: Service %s", name, s.Name)
			c := b.deployments[hits[0]].Spec.Template.Spec.Containers[0]
			for _, p := range s.Spec.Ports {
				require.True(t, slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() }),
					"%s: Service %s targets port %s", name, s.Name, p.TargetPort.String())
			}
		}
		covered := map[string]bool{}
		for _, p := range b.pdbs {
			hits := selects(p.Spec.Selector.MatchLabels)
			require.Len(t, hits, 1, "%s: PDB %s", name, p.Name)
			covered[hits[0]] = true
		}
		require.True(t, covered["tasker-orchestration"] && covered["tasker-worker"], "%s: PDBs cover %v", name, covered)
	}
}

// TestNetworkPolicies: a default deny covers every Tasker pod in both
// directions, DNS and PostgreSQL egress are open, and each API port is
// reachable.
func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	for _, name := range overlays {
		b := buildOverlay(t, name)
		var deny, dns, pg bool
		ingressPorts := map[string]int32{}
		for _, p := range b.policies {
			sel := p.Spec.PodSelector.MatchLabels
			if sel["app.kubernetes.io/part-of"] == "tasker" && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 &&
				slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				deny = true
			}
			for _, e := range p.Spec.Egress {
				for _, port := range e.Ports {
					switch port.Port.IntValue() {
					case 53:
						dns = true
					case 5432:
						pg = true
					}
				}
			}
			for _, in := range p.Spec.Ingress {
				for _, port := range in.Ports {
					ingressPorts[sel["app.kubernetes.io/name"]] = int32(port.Port.IntValue())
				}
			}
		}
		require.True(t, deny && dns && pg, "%s: deny %v dns %v postgres %v", name, deny, dns, pg)
		require.Equal(t, map[string]int32{"tasker-orchestration": 8080, "tasker-worker": 8081}, ingressPorts, name)
	}
}

// TestScaling: production scales workers (and orchestration) with KEDA on
// the queue signals, production-hpa with HPAs on the worker's saturation,
// development not at all; every scaler targets a Deployment of the overlay.
func TestScaling(t *testing.T) {
	t.Parallel()
	dev := buildOverlay(t, "development")
	require.Empty(t, dev.scaled)
	require.Empty(t, dev.hpas)

	prod := buildOverlay(t, "production")
	require.Empty(t, prod.hpas)
	var queries []string
	targets := map[string]bool{}
	for _, so := range prod.scaled {
		var spec struct {
			Spec struct {
				ScaleTargetRef struct{ Name string } `json:"scaleTargetRef"`
				Triggers       []struct {
					Type     string            `json:"type"`
					Metadata map[string]string `json:"metadata"`
				} `json:"triggers"`
			} `json:"spec"`
		}
		data, err := yaml.Marshal(so)
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, &spec))
		_, ok := prod.deployments[spec.Spec.ScaleTargetRef.Name]
		require.True(t, ok, "ScaledObject %s targets %s", so.Name(), spec.Spec.ScaleTargetRef.Name)
		targets[spec.Spec.ScaleTargetRef.Name] = true
		for _, tr := range spec.Spec.Triggers {
			require.Equal(t, "prometheus", tr.Type)
			queries = append(queries, tr.Metadata["query"])
		}
	}
	require.Equal(t, map[string]bool{"tasker-worker": true, "tasker-orchestration": true}, targets)
	joined := strings.Join(queries, "\n")
	for _, signal := range []string{`tasker_queue_visible_messages{queue=~"worker_.+_queue"}`, `tasker_queue_oldest_message_age_seconds{queue=~"worker_.+_queue"}`, `queue="orchestration_step_results"`} {
		require.Contains(t, joined, signal)
	}

	hpa := buildOverlay(t, "production-hpa")
	require.Empty(t, hpa.scaled)
	var workerMetric string
	for _, h := range hpa.hpas {
		_, ok := hpa.deployments[h.Spec.ScaleTargetRef.Name]
		require.True(t, ok, "HPA %s targets %s", h.Name, h.Spec.ScaleTargetRef.Name)
		if h.Spec.ScaleTargetRef.Name == "tasker-worker" {
			workerMetric = h.Spec.Metrics[0].Pods.Metric.Name
		}
	}
	require.Equal(t, "tasker_worker_saturation_ratio", workerMetric)
}

// TestCheckersReject: the strict decoder and the KEDA schema reject what
// the API server or KEDA would reject or silently drop, and the resolver
// refuses kustomize fields it does not implement.
func TestCheckersReject(t *testing.T) {
	t.Parallel()
	obj := func(src string) Object {
		var o Object
		require.NoError(t, yaml.Unmarshal([]byte(src), &o))
		return o
	}
	for src, want := range map[string]string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n":                                  `unknown field "spec.replica"`,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {Replicas: 2}\n":                                 `unknown field "spec.Replicas"`,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n":                               "cannot unmarshal string",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n":                                                                  "no API type",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80, targetPort: http, protocl: TCP}]}\n": `unknown field "spec.ports[0].protocl"`,
	} {
		_, err := Decode(obj(src))
		require.ErrorContains(t, err, want, src)
	}
	keda := kedaSchema(t)
	good := "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  scaleTargetRef: {name: w}\n  triggers: [{type: prometheus, metadata: {query: up, threshold: \"5\"}}]\n"
	require.NoError(t, keda.Validate(obj(good)))
	for _, bad := range []string{
		strings.Replace(good, `threshold: "5"`, "threshold: 5", 1),
		strings.Replace(good, "scaleTargetRef: {name: w}", "scaleTargetRef: {nme: w}", 1),
		strings.Replace(good, "spec:\n", "spec:\n  maxReplicas: 3\n", 1),
		strings.Replace(good, "  scaleTargetRef: {name: w}\n", "", 1),
	} {
		require.Error(t, keda.Validate(obj(bad)), bad)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\npatches: [{path: p.yaml}]\n")
	_, err := Build(dir)
	require.ErrorContains(t, err, `unknown field "patches"`)
}

// hashSuffix is the content hash kustomize appends to generated names.
var hashSuffix = regexp.MustCompile(`-[a-z0-9]{10}$`)

// TestMatchesKustomize: where kubectl (with its built-in kustomize) is
// installed, its build of each overlay has the same objects, images and
// replicas as this package's resolver.
func TestMatchesKustomize(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: the overlays are checked with this package's resolver only")
	}
	for _, name := range overlays {
		out, err := exec.Command(kubectl, "kustomize", filepath.Join("kubernetes/overlays", name)).Output()
		require.NoError(t, err, name)
		var theirs []string
		for _, doc := range bytes.Split(out, []byte("\n---\n")) {
			var o Object
			require.NoError(t, yaml.Unmarshal(doc, &o))
			id := o.ID()
			if o.Kind() == "ConfigMap" || o.Kind() == "Secret" {
				id = hashSuffix.ReplaceAllString(id, "")
			}
			theirs = append(theirs, id+" "+summary(o))
		}
		objs, err := Build(filepath.Join("kubernetes/overlays", name))
		require.NoError(t, err)
		var ours []string
		for _, o := range objs {
			ours = append(ours, o.ID()+" "+summary(o))
		}
		sort.Strings(theirs)
		sort.Strings(ours)
		require.Equal(t, theirs, ours, name)
	}
}

// summary is what the resolver must agree with kustomize on beyond names:
// images, replicas and the data of generated objects.
func summary(o Object) string {
	spec, _ := o["spec"].(map[string]any)
	var parts []string
	if r, ok := spec["replicas"]; ok {
		parts = append(parts, fmt.Sprintf("replicas=%v", r))
	}
	if tpl, ok := spec["template"].(map[string]any); ok {
		ps, _ := tpl["spec"].(map[string]any)
		cs, _ := ps["containers"].([]any)
		for _, c := range cs {
			parts = append(parts, fmt.Sprintf("image=%v", c.(map[string]any)["image"]))
		}
	}
	if data, ok := o["data"].(map[string]any); ok {
		keys := make([]string, 0, len(data))
		for k, v := range data {
			keys = append(keys, fmt.Sprintf("%s=%v", k, strings.Join(strings.Fields(fmt.Sprint(v)), "")))
		}
		sort.Strings(keys)
		parts = append(parts, keys...)
	}
	labels, _ := o.Metadata()["labels"].(map[string]any)
	parts = append(parts, fmt.Sprintf("part-of=%v", labels["app.kubernetes.io/part-of"]))
	return strings.Join(parts, ",")
}
