package deploy

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Object is one Kubernetes object as decoded from YAML.
type Object map[string]any

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// APIVersion returns the object's apiVersion.
func (o Object) APIVersion() string { s, _ := o["apiVersion"].(string); return s }

// Metadata returns the object's metadata map (created when missing).
func (o Object) Metadata() map[string]any {
	m, ok := o["metadata"].(map[string]any)
	if !ok {
		m = map[string]any{}
		o["metadata"] = m
	}
	return m
}

// Name returns metadata.name.
func (o Object) Name() string { s, _ := o.Metadata()["name"].(string); return s }

// Namespace returns metadata.namespace.
func (o Object) Namespace() string { s, _ := o.Metadata()["namespace"].(string); return s }

// ID names the object for messages: Kind/namespace/name.
func (o Object) ID() string { return o.Kind() + "/" + o.Namespace() + "/" + o.Name() }

// kustomization is the subset of kustomize's Kustomization (and
// Component) that the manifests use. It is decoded strictly: a field the
// resolver does not implement is an error, so the check never passes on a
// kustomization it did not fully apply.
type kustomization struct {
	APIVersion         string      `json:"apiVersion"`
	Kind               string      `json:"kind"`
	Namespace          string      `json:"namespace,omitempty"`
	Resources          []string    `json:"resources,omitempty"`
	Components         []string    `json:"components,omitempty"`
	Labels             []labelSet  `json:"labels,omitempty"`
	ConfigMapGenerator []generator `json:"configMapGenerator,omitempty"`
	SecretGenerator    []generator `json:"secretGenerator,omitempty"`
	Images             []image     `json:"images,omitempty"`
	Replicas           []replica   `json:"replicas,omitempty"`
}

type labelSet struct {
	Pairs            map[string]string `json:"pairs"`
	IncludeSelectors bool              `json:"includeSelectors,omitempty"`
}

type generator struct {
	Name     string   `json:"name"`
	Behavior string   `json:"behavior,omitempty"`
	Literals []string `json:"literals,omitempty"`
}

type image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
}

type replica struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// clusterScoped are the kinds the namespace transformer leaves alone.
var clusterScoped = []string{"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass"}

// Build resolves the kustomization in dir the way `kustomize build` does
// for the fields above: resources (files and directories) first, then
// components, then this kustomization's generators, namespace, labels,
// images and replicas. Unlike kustomize it does not add a content hash to
// generated ConfigMap and Secret names.
func Build(dir string) ([]Object, error) {
	return build(dir, "Kustomization")
}

func build(dir, wantKind string) ([]Object, error) {
	k, err := readKustomization(dir, wantKind)
	if err != nil {
		return nil, err
	}
	var objs []Object
	for _, r := range k.Resources {
		path := filepath.Join(dir, r)
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%s: resource %s: %w", dir, r, err)
		}
		var more []Object
		if st.IsDir() {
			more, err = build(path, "Kustomization")
		} else {
			more, err = ReadObjects(path)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	for _, c := range k.Components {
		comp, err := readKustomization(filepath.Join(dir, c), "Component")
		if err != nil {
			return nil, err
		}
		if objs, err = apply(filepath.Join(dir, c), comp, objs); err != nil {
			return nil, err
		}
	}
	return apply(dir, k, objs)
}

func readKustomization(dir, wantKind string) (*kustomization, error) {
	path := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, fmt.Errorf("%s: %w (only the fields this resolver implements are allowed)", path, err)
	}
	if k.Kind != wantKind {
		return nil, fmt.Errorf("%s: kind %q, want %q", path, k.Kind, wantKind)
	}
	return &k, nil
}

// apply adds k's own resources (for a component), its generated objects,
// then runs its transformers over objs.
func apply(dir string, k *kustomization, objs []Object) ([]Object, error) {
	if k.Kind == "Component" {
		for _, r := range k.Resources {
			more, err := ReadObjects(filepath.Join(dir, r))
			if err != nil {
				return nil, err
			}
			objs = append(objs, more...)
		}
	}
	var err error
	for _, g := range k.ConfigMapGenerator {
		if objs, err = generate(dir, objs, "ConfigMap", g); err != nil {
			return nil, err
		}
	}
	for _, g := range k.SecretGenerator {
		if objs, err = generate(dir, objs, "Secret", g); err != nil {
			return nil, err
		}
	}
	for _, o := range objs {
		if k.Namespace != "" && !slices.Contains(clusterScoped, o.Kind()) {
			o.Metadata()["namespace"] = k.Namespace
		}
		for _, l := range k.Labels {
			if l.IncludeSelectors {
				return nil, fmt.Errorf("%s: labels with includeSelectors are not supported by this resolver", dir)
			}
			labels, _ := o.Metadata()["labels"].(map[string]any)
			if labels == nil {
				labels = map[string]any{}
				o.Metadata()["labels"] = labels
			}
			for name, v := range l.Pairs {
				labels[name] = v
			}
		}
		for _, im := range k.Images {
			setImages(o, im)
		}
	}
	for _, r := range k.Replicas {
		found := false
		for _, o := range objs {
			if o.Name() == r.Name && (o.Kind() == "Deployment" || o.Kind() == "StatefulSet") {
				spec, _ := o["spec"].(map[string]any)
				spec["replicas"] = float64(r.Count)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: replicas: no Deployment or StatefulSet named %s", dir, r.Name)
		}
	}
	seen := map[string]bool{}
	for _, o := range objs {
		if seen[o.ID()] {
			return nil, fmt.Errorf("%s: %s appears twice", dir, o.ID())
		}
		seen[o.ID()] = true
	}
	return objs, nil
}

func generate(dir string, objs []Object, kind string, g generator) ([]Object, error) {
	data := map[string]string{}
	for _, lit := range g.Literals {
		key, value, ok := strings.Cut(lit, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%s: %s generator %s: literal %q is not KEY=VALUE", dir, kind, g.Name, lit)
		}
		data[key] = value
	}
	encode := func(m map[string]string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if kind == "Secret" {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			out[k] = v
		}
		return out
	}
	switch g.Behavior {
	case "", "create":
		o := Object{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": g.Name}, "data": encode(data)}
		if kind == "Secret" {
			o["type"] = "Opaque"
		}
		return append(objs, o), nil
	case "merge", "replace":
		for _, o := range objs {
			if o.Kind() != kind || o.Name() != g.Name {
				continue
			}
			existing, _ := o["data"].(map[string]any)
			if g.Behavior == "replace" || existing == nil {
				existing = map[string]any{}
			}
			maps.Copy(existing, encode(data))
			o["data"] = existing
			return objs, nil
		}
		return nil, fmt.Errorf("%s: %s generator %s: behavior %s but no such %s in the resources", dir, kind, g.Name, g.Behavior, kind)
	}
	return nil, fmt.Errorf("%s: %s generator %s: unknown behavior %q", dir, kind, g.Name, g.Behavior)
}

// setImages applies an images entry to the containers of a workload.
func setImages(o Object, im image) {
	spec, _ := o["spec"].(map[string]any)
	tpl, _ := spec["template"].(map[string]any)
	if job, ok := spec["jobTemplate"].(map[string]any); ok {
		js, _ := job["spec"].(map[string]any)
		tpl, _ = js["template"].(map[string]any)
	}
	ps, _ := tpl["spec"].(map[string]any)
	for _, field := range []string{"initContainers", "containers"} {
		cs, _ := ps[field].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			ref, _ := cm["image"].(string)
			name, tag := ref, ""
			if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
				name, tag = ref[:i], ref[i+1:]
			}
			if name != im.Name {
				continue
			}
			if im.NewName != "" {
				name = im.NewName
			}
			if im.NewTag != "" {
				tag = im.NewTag
			}
			if tag != "" {
				name += ":" + tag
			}
			cm["image"] = name
		}
	}
}

// ReadObjects reads every YAML document of a file as an object.
func ReadObjects(path string) ([]Object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var o Object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		if o.Kind() == "" || o.APIVersion() == "" || o.Name() == "" {
			return nil, fmt.Errorf("%s: document %d: apiVersion, kind and metadata.name are required", path, i+1)
		}
		objs = append(objs, o)
	}
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
