package template

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// eventSchemas caches compiled event payload schemas by their text: steps of
// many tasks share a handful of declarations.
var eventSchemas sync.Map // string -> *compiledSchema

// compileEventSchema compiles (once per schema text) an event's schema.
func compileEventSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	key := string(raw)
	if c, ok := eventSchemas.Load(key); ok {
		cs := c.(*compiledSchema)
		return cs.sch, cs.err
	}
	sch, err := compileSchema(raw)
	eventSchemas.Store(key, &compiledSchema{sch: sch, err: err})
	return sch, err
}

// ValidatePayload checks a payload against the event's declared schema and
// returns every problem with the JSON pointer of the offending value, sorted
// by pointer; nil when the payload is valid or the event declares no
// schema.
func (e PublishedEvent) ValidatePayload(payload json.RawMessage) []ContextError {
	if len(e.Schema) == 0 || string(e.Schema) == "null" {
		return nil
	}
	sch, err := compileEventSchema(e.Schema)
	if err != nil {
		return []ContextError{{Message: "the event's schema does not compile: " + oneLine(err.Error())}}
	}
	inst, err := toInstance(payload)
	if err != nil {
		return []ContextError{{Message: "payload is not valid JSON: " + err.Error()}}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ContextError{{Message: oneLine(err.Error())}}
	}
	out := contextErrors(ve, nil)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		return out[i].Message < out[j].Message
	})
	return dedupe(out)
}
