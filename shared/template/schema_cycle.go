package template

import (
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// refCycle finds a loop of subschemas that apply to the same value, such as
// {"$ref": "#"} or {"allOf": [{"$ref": "#"}]}: validating any value that
// reaches the loop would go round it for ever, which the validator reports
// as a reference cycle on every task creation. The compiler accepts such
// schemas, so they are looked for here. A reference that descends into the
// value first ({"properties": {"child": {"$ref": "#"}}}, a recursive
// schema) ends with the value and is fine.
//
// It returns the loop's schema locations as JSON pointers, the first one
// repeated at the end, or nil.
func refCycle(root *jsonschema.Schema) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[*jsonschema.Schema]int{}
	var (
		path  []*jsonschema.Schema
		cycle []string
	)
	// inPlace follows the edges that keep the value.
	var inPlace func(s *jsonschema.Schema) bool
	inPlace = func(s *jsonschema.Schema) bool {
		switch state[s] {
		case onPath:
			at := 0
			for path[at] != s {
				at++
			}
			for _, p := range path[at:] {
				cycle = append(cycle, schemaPointer(p))
			}
			cycle = append(cycle, schemaPointer(s))
			return true
		case done:
			return false
		}
		state[s] = onPath
		path = append(path, s)
		for _, next := range sameValueSubschemas(s) {
			if inPlace(next) {
				return true
			}
		}
		path = path[:len(path)-1]
		state[s] = done
		return false
	}
	// Every subschema is a possible entry into a loop.
	seen := map[*jsonschema.Schema]bool{}
	stack := []*jsonschema.Schema{root}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		if inPlace(s) {
			return cycle
		}
		stack = append(stack, sameValueSubschemas(s)...)
		stack = append(stack, childValueSubschemas(s)...)
	}
	return nil
}

// sameValueSubschemas are the subschemas s applies to the value s itself
// applies to: references and the in-place applicators.
func sameValueSubschemas(s *jsonschema.Schema) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	add := func(subs ...*jsonschema.Schema) {
		for _, sub := range subs {
			if sub != nil {
				out = append(out, sub)
			}
		}
	}
	add(s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else)
	if s.DynamicRef != nil {
		add(s.DynamicRef.Ref)
	}
	add(s.AllOf...)
	add(s.AnyOf...)
	add(s.OneOf...)
	for _, sub := range s.DependentSchemas {
		add(sub)
	}
	for _, dep := range s.Dependencies {
		if sub, ok := dep.(*jsonschema.Schema); ok {
			add(sub)
		}
	}
	return out
}

// childValueSubschemas are the subschemas s applies to parts of the value
// (properties, items, property names, decoded content).
func childValueSubschemas(s *jsonschema.Schema) []*jsonschema.Schema {
	var out []*jsonschema.Schema
	add := func(subs ...*jsonschema.Schema) {
		for _, sub := range subs {
			if sub != nil {
				out = append(out, sub)
			}
		}
	}
	for _, sub := range s.Properties {
		add(sub)
	}
	for _, sub := range s.PatternProperties {
		add(sub)
	}
	add(s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema)
	add(s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch v := v.(type) {
		case *jsonschema.Schema:
			add(v)
		case []*jsonschema.Schema:
			add(v...)
		}
	}
	return out
}

// schemaPointer shows a subschema's location inside the input schema as
// "#/json/pointer", or its full location when it lies elsewhere.
func schemaPointer(s *jsonschema.Schema) string {
	if rest, ok := strings.CutPrefix(s.Location, schemaURL); ok {
		if rest == "" || rest == "#" {
			return "#"
		}
		return rest
	}
	return s.Location
}

// errRefCycle reports a loop found by refCycle.
func errRefCycle(cycle []string) error {
	return fmt.Errorf("reference cycle %s: each applies the next to the same value, so validation would never end (recursion must go through properties or items)",
		strings.Join(cycle, " -> "))
}
