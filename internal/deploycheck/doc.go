// Package deploycheck holds the checks of the deployment files under
// deploy/ that need the engine's own code: every PromQL expression in the
// Grafana dashboards, the Prometheus alerting rules and the autoscaling
// manifests names only series (and labels) that the orchestration and
// worker code register, the registered names follow Prometheus naming
// conventions, and promtool accepts and unit-tests the rules. The
// Kubernetes manifests are checked in the separate module deploy/, so this
// module does not depend on Kubernetes.
package deploycheck
