package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// typed maps apiVersion and kind to a new value of its Kubernetes API type.
var typed = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
}

// Decode decodes o strictly into its Kubernetes API type: unknown or
// duplicate fields, wrong case and values of the wrong type are errors, as
// with `kubectl apply --validate=strict`. Kinds without a Go type here
// (custom resources) are rejected; check those with a Schema.
func Decode(o Object) (any, error) {
	newT, ok := typed[o.APIVersion()+"/"+o.Kind()]
	if !ok {
		return nil, fmt.Errorf("%s: no API type for %s %s", o.ID(), o.APIVersion(), o.Kind())
	}
	data, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	v := newT()
	strict, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.ID(), err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%s: %w", o.ID(), errors.Join(strict...))
	}
	return v, nil
}

// Schema validates custom resources against the openAPIV3Schema of their
// CustomResourceDefinition.
type Schema struct {
	APIVersion, Kind string
	schema           *jsonschema.Schema
}

// LoadCRDSchema reads a CustomResourceDefinition and compiles the schema
// of one of its versions. Objects that declare properties accept no other
// fields (the API server prunes unknown fields silently; here they are
// errors), unless the schema preserves unknown fields.
func LoadCRDSchema(path, version string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var crd struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		if s == nil {
			return nil, fmt.Errorf("%s: version %s has no openAPIV3Schema", path, version)
		}
		closeObjects(s)
		c := jsonschema.NewCompiler()
		url := "file:///" + strings.TrimPrefix(filepath.ToSlash(path), "/") + "." + version + ".json"
		if err := c.AddResource(url, s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		compiled, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &Schema{APIVersion: crd.Spec.Group + "/" + version, Kind: crd.Spec.Names.Kind, schema: compiled}, nil
	}
	return nil, fmt.Errorf("%s: no version %s", path, version)
}

// closeObjects sets additionalProperties: false on every object schema with
// properties that neither allows nor preserves other fields.
func closeObjects(s map[string]any) {
	if props, ok := s["properties"].(map[string]any); ok {
		_, hasAdditional := s["additionalProperties"]
		preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
		if !hasAdditional && !preserve {
			s["additionalProperties"] = false
		}
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				closeObjects(m)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if m, ok := s[key].(map[string]any); ok {
			closeObjects(m)
		}
	}
	for _, key := range []string{"anyOf", "allOf", "oneOf"} {
		if list, ok := s[key].([]any); ok {
			for _, x := range list {
				if m, ok := x.(map[string]any); ok {
					closeObjects(m)
				}
			}
		}
	}
}

// Validate checks o against the schema.
func (s *Schema) Validate(o Object) error {
	if o.APIVersion() != s.APIVersion || o.Kind() != s.Kind {
		return fmt.Errorf("%s: schema is for %s %s", o.ID(), s.APIVersion, s.Kind)
	}
	// Round-trip through JSON so numbers and maps have the types the
	// validator expects.
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		return err
	}
	if err := s.schema.Validate(v); err != nil {
		return fmt.Errorf("%s: %w", o.ID(), err)
	}
	return nil
}
