package deploy

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBuildResolves: resources from files and directories, components,
// generators with create and merge, namespace, labels, images and
// replicas are applied in kustomize's order, and mistakes are named.
func TestBuildResolves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, overlay, comp := filepath.Join(dir, "base"), filepath.Join(dir, "overlay"), filepath.Join(dir, "comp")
	for _, d := range []string{base, overlay, comp} {
		require.NoError(t, mkdir(d))
	}
	writeFile(t, filepath.Join(base, "kustomization.yaml"), `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [app.yaml]
configMapGenerator:
  - name: env
    literals: [A=1, B=2]
`)
	writeFile(t, filepath.Join(base, "app.yaml"), `# a comment-only document is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: c, image: app}]
`)
	writeFile(t, filepath.Join(comp, "kustomization.yaml"), "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [extra.yaml]\n")
	writeFile(t, filepath.Join(comp, "extra.yaml"), "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: extra}\n")
	writeFile(t, filepath.Join(overlay, "kustomization.yaml"), `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ns
resources: [../base]
components: [../comp]
labels: [{pairs: {team: x}}]
configMapGenerator:
  - {name: env, behavior: merge, literals: [B=3, C=4]}
secretGenerator:
  - {name: s, literals: [k=v]}
images: [{name: app, newName: reg/app, newTag: "2"}]
replicas: [{name: app, count: 3}]
`)
	objs, err := Build(overlay)
	require.NoError(t, err)
	byID := map[string]Object{}
	for _, o := range objs {
		byID[o.ID()] = o
		require.Equal(t, "x", o.Metadata()["labels"].(map[string]any)["team"], o.ID())
	}
	require.Len(t, byID, 4)
	app := byID["Deployment/ns/app"]
	require.InDelta(t, 3, app["spec"].(map[string]any)["replicas"], 0)
	c := app["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0]
	require.Equal(t, "reg/app:2", c.(map[string]any)["image"])
	require.Equal(t, map[string]any{"A": "1", "B": "3", "C": "4"}, byID["ConfigMap/ns/env"]["data"])
	require.Equal(t, map[string]any{"k": "dg=="}, byID["Secret/ns/s"]["data"])
	require.Contains(t, byID, "ServiceAccount/ns/extra")

	for content, want := range map[string]string{
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\nconfigMapGenerator: [{name: nope, behavior: merge, literals: [A=1]}]\n": "behavior merge but no such ConfigMap",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\nreplicas: [{name: nope, count: 2}]\n":                                   "no Deployment or StatefulSet named nope",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base, ../base]\n":                                                              "appears twice",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n":                                                                  "missing.yaml",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator: [{name: e, literals: [novalue]}]\n":                                       `literal "novalue" is not KEY=VALUE`,
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents: [../base]\n":                                                                      `kind "Kustomization", want "Component"`,
	} {
		writeFile(t, filepath.Join(overlay, "kustomization.yaml"), content)
		_, err := Build(overlay)
		require.ErrorContains(t, err, want, content)
	}
}
