package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaURL names the input schema inside its compiler; nothing is fetched
// from it.
const schemaURL = "tasker:///input_schema.json"

// ContextError is one way a task context fails the template's input_schema.
type ContextError struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value, "" for
	// the whole context. For a missing required property it points at the
	// property.
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Error formats the problem as "pointer: message".
func (e ContextError) Error() string {
	p := e.Pointer
	if p == "" {
		p = "/"
	}
	return p + ": " + e.Message
}

// CompileInputSchema compiles the template's input_schema. It returns nil
// and no error when the template has none. Schemas use draft 2020-12 unless
// they declare another $schema; references to other documents are refused
// (nothing is read from the network or the file system).
func (t *Template) CompileInputSchema() (*jsonschema.Schema, error) {
	if t.InputSchema == nil {
		return nil, nil
	}
	if t.schema != nil {
		if c := t.schema.cached.Load(); c != nil && bytes.Equal(c.src, t.InputSchema) {
			return c.sch, c.err
		}
	}
	sch, err := compileSchema(t.InputSchema)
	if err != nil {
		err = fmt.Errorf("compiling input_schema of %s: %w", t.Key(), err)
	}
	if t.schema != nil {
		t.schema.cached.Store(&compiledSchema{src: bytes.Clone(t.InputSchema), sch: sch, err: err})
	}
	return sch, err
}

// ValidateContext checks a task context against the template's input_schema
// and returns every problem with the JSON pointer of the offending value,
// sorted by pointer, then message. ctx may be any value encoding/json can
// marshal, or the JSON itself as json.RawMessage or []byte. It returns nil
// when the context is valid or the template has no input_schema.
func (t *Template) ValidateContext(ctx any) []ContextError {
	sch, err := t.CompileInputSchema()
	if err != nil {
		return []ContextError{{Message: "the template's input_schema does not compile: " + oneLine(err.Error())}}
	}
	if sch == nil {
		return nil
	}
	inst, err := toInstance(ctx)
	if err != nil {
		return []ContextError{{Message: "context is not valid JSON: " + err.Error()}}
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

// schemaHolder caches a template's compiled input schema. Templates share it
// when copied, so the cache is keyed by the schema text.
type schemaHolder struct {
	cached atomic.Pointer[compiledSchema]
}

type compiledSchema struct {
	src []byte
	sch *jsonschema.Schema
	err error
}

// noLoader refuses every external reference.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed (%s)", url)
}

func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("adding schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, err
	}
	if cycle := refCycle(sch); cycle != nil {
		return nil, errRefCycle(cycle)
	}
	return sch, nil
}

// toInstance turns a context into the JSON value form the validator expects.
func toInstance(ctx any) (any, error) {
	var raw []byte
	switch c := ctx.(type) {
	case json.RawMessage:
		raw = c
	case []byte:
		raw = c
	default:
		b, err := json.Marshal(ctx)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

var printer = message.NewPrinter(language.English)

// contextErrors flattens a validation error tree into its leaves.
func contextErrors(ve *jsonschema.ValidationError, out []ContextError) []ContextError {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			out = contextErrors(c, out)
		}
		return out
	}
	ptr := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			out = append(out, ContextError{Pointer: ptr + "/" + escapePointer(m), Message: "is required"})
		}
		return out
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			out = append(out, ContextError{Pointer: ptr + "/" + escapePointer(p), Message: "is not allowed"})
		}
		return out
	}
	return append(out, ContextError{Pointer: ptr, Message: kindMessage(ve.ErrorKind)})
}

// kindMessage words the common failures plainly and falls back to the
// library's text.
func kindMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + ratString(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %q", k.Want)
	case *kind.FalseSchema:
		return "is not allowed"
	}
	return k.LocalizedString(printer)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// pointer builds a JSON pointer from reference tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + escapePointer(t))
	}
	return b.String()
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func dedupe(errs []ContextError) []ContextError {
	out := errs[:0]
	for i, e := range errs {
		if i == 0 || e != errs[i-1] {
			out = append(out, e)
		}
	}
	return out
}
