package deploycheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MetricPrefixes are the prefixes of the series the engine exports: every
// identifier in an expression that starts with one is a series reference.
var MetricPrefixes = []string{"tasker_", "go_", "process_"}

// TargetLabels are labels Prometheus adds to every scraped series (job,
// instance) and the ones the Kubernetes scrape configuration of
// docs/deploy.md adds (pod, kubernetes_namespace).
var TargetLabels = []string{"job", "instance", "pod", "kubernetes_namespace"}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	variableRE = regexp.MustCompile(`\$\{?\w+(?::\w+)?\}?`)
	selectorRE = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)`)
)

// Ref is one series named in an expression, with the labels its matchers use.
type Ref struct {
	Name   string
	Labels []string
}

// Refs returns the series an expression names: identifiers starting with
// one of MetricPrefixes, outside string literals and after dashboard
// variables ($var, ${var}, $__rate_interval) are blanked.
func Refs(expr string) []Ref {
	s := stringRE.ReplaceAllString(expr, `""`)
	s = variableRE.ReplaceAllString(s, "")
	var out []Ref
	for _, m := range selectorRE.FindAllStringSubmatch(s, -1) {
		name := m[1]
		if !hasMetricPrefix(name) {
			continue
		}
		r := Ref{Name: name}
		for _, lm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			r.Labels = append(r.Labels, lm[1])
		}
		out = append(out, r)
	}
	return out
}

func hasMetricPrefix(name string) bool {
	for _, p := range MetricPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// CheckExpr returns one problem per series of expr that the code does not
// register, and per label matcher on a label the series does not have. An
// expression that names no series at all is a problem too (it cannot be
// checked, and an operator's panel or alert would show nothing).
func CheckExpr(expr string, reg map[string]Metric) []string {
	refs := Refs(expr)
	if len(refs) == 0 {
		return []string{fmt.Sprintf("names no series with prefix %s", strings.Join(MetricPrefixes, ", "))}
	}
	var problems []string
	for _, r := range refs {
		m, suffixLabels, ok := resolve(r.Name, reg)
		if !ok {
			problems = append(problems, fmt.Sprintf("series %s is not registered by the code", r.Name))
			continue
		}
		for _, l := range r.Labels {
			if !slices.Contains(m.Labels, l) && !slices.Contains(suffixLabels, l) && !slices.Contains(TargetLabels, l) {
				problems = append(problems, fmt.Sprintf("series %s has no label %q (it has %s)", r.Name, l, strings.Join(m.Labels, ", ")))
			}
		}
	}
	return problems
}

// resolve finds the family of a series name: the name itself, or a
// histogram's _bucket, _sum or _count series (a summary's _sum and _count).
func resolve(name string, reg map[string]Metric) (Metric, []string, bool) {
	if m, ok := reg[name]; ok {
		return m, nil, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		m, ok := reg[base]
		switch {
		case ok && m.Kind == KindHistogram && suffix == "_bucket":
			return m, []string{"le"}, true
		case ok && (m.Kind == KindHistogram || m.Kind == KindSummary) && suffix != "_bucket":
			return m, nil, true
		}
	}
	return Metric{}, nil, false
}

// ConventionProblems reviews registered names against Prometheus naming
// conventions: the tasker_ prefix, snake case, _total on counters and only
// on counters, base units (seconds, bytes) rather than milliseconds or
// kilobytes, no unit-less time names, and a help text.
func ConventionProblems(reg map[string]Metric) []string {
	var problems []string
	nameRE := regexp.MustCompile(`^tasker_[a-z][a-z0-9_]*[a-z0-9]$`)
	for _, m := range reg {
		if m.Source == "runtime" {
			continue
		}
		add := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s (%s): ", m.Name, m.Source)+fmt.Sprintf(format, args...))
		}
		if !nameRE.MatchString(m.Name) || strings.Contains(m.Name, "__") {
			add("want tasker_ followed by lower-case snake case")
		}
		total := strings.HasSuffix(m.Name, "_total")
		switch {
		case m.Kind == KindCounter && !total:
			add("a counter's name ends in _total")
		case (m.Kind == KindGauge || m.Kind == KindHistogram || m.Kind == KindSummary) && total:
			add("only counters end in _total (this is a %s)", m.Kind)
		}
		for _, bad := range []string{"_milliseconds", "_ms", "_millis", "_microseconds", "_kilobytes", "_megabytes", "_percent", "_count_total"} {
			if strings.Contains(m.Name+"_", bad+"_") {
				add("use base units (seconds, bytes, ratio), not %s", strings.TrimPrefix(bad, "_"))
			}
		}
		for _, timeWord := range []string{"_duration", "_latency", "_age", "_wait", "_elapsed"} {
			if strings.Contains(m.Name+"_", timeWord+"_") && !strings.Contains(m.Name, "_seconds") {
				add("a time is measured in seconds: end the name in _seconds")
			}
		}
		if strings.TrimSpace(m.Help) == "" {
			add("no help text")
		}
		for _, l := range m.Labels {
			if slices.Contains(TargetLabels, l) && l != "namespace" {
				add("label %q collides with a label Prometheus adds to every target", l)
			}
		}
	}
	slices.Sort(problems)
	return problems
}
