// Package deploy validates the Kubernetes manifests under kubernetes/
// offline: it resolves the kustomize overlays, decodes every object strictly
// into the Kubernetes API types (KEDA ScaledObjects against the CRD schema
// in testdata/keda), and checks what a deployment relies on: probes,
// shutdown budgets, security contexts, references between objects and the
// scaling targets. It is a module of its own so the engine's module does
// not depend on Kubernetes.
package deploy
