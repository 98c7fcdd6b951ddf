package template

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ParseOptions controls how templates are parsed.
type ParseOptions struct {
	// Environment selects the environments.<Environment> overrides to
	// deep-merge into the steps (tasker-core's TASKER_ENV). Empty means no
	// overrides; a template without that environment is left as written.
	Environment string
}

// Parse decodes every template in data, a YAML stream of at most 4 MiB that
// may hold several documents separated by "---" (empty documents are
// skipped). A document may nest at most 64 levels deep and its aliases may
// expand to at most 1,000,000 nodes; an error names the limit hit and the
// numbers. JSON is accepted too, being YAML. filename only labels errors.
// Defaults are applied and environment overrides merged, but the templates
// are not validated: call Validate on each.
//
// The error, if any, is a ValidationErrors. Documents that decode cleanly are
// returned even when others in the stream fail.
func Parse(data []byte, filename string, opts ParseOptions) ([]*Template, error) {
	if filename == "" {
		filename = "<input>"
	}
	if len(data) > maxTemplateFileSz {
		return nil, ValidationErrors{{File: filename, Message: tooLarge(int64(len(data)))}}
	}
	if line := deepFlowLine(data, maxNestingDepth); line > 0 {
		return nil, ValidationErrors{{File: filename, Line: line,
			Message: printer.Sprintf("document is nested more than %d levels deep", maxNestingDepth)}}
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, ValidationErrors{yamlError(filename, err)}
	}
	var (
		out  []*Template
		errs ValidationErrors
	)
	for _, doc := range file.Docs {
		if doc == nil || isEmptyBody(doc.Body) {
			continue
		}
		t, derrs := parseDocument(doc.Body, filename, opts)
		errs = append(errs, derrs...)
		if t != nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{File: filename, Message: "no template document found"})
	}
	return out, errs.err()
}

// ParseFile reads and parses one template file. Errors, including a file that
// cannot be read, are returned as ValidationErrors.
func ParseFile(path string, opts ParseOptions) ([]*Template, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, ValidationErrors{&Error{File: path, Message: err.Error(), Err: err}}
	}
	return Parse(data, path, opts)
}

// isEmptyBody reports whether a document holds nothing but comments or null.
func isEmptyBody(n ast.Node) bool {
	switch n.(type) {
	case nil, *ast.CommentNode, *ast.CommentGroupNode, *ast.NullNode:
		return true
	}
	return false
}

func parseDocument(body ast.Node, filename string, opts ParseOptions) (*Template, ValidationErrors) {
	src := &source{file: filename, line0: nodeLine(body), lines: map[string]int{}, texts: map[string]string{}}
	if problem, line := newScanner(src).scan(body); problem != "" {
		return nil, ValidationErrors{{File: filename, Line: line, Message: problem}}
	}
	var raw any
	if err := yaml.NodeToValue(body, &raw); err != nil {
		return nil, ValidationErrors{yamlError(filename, err)}
	}
	d := &decoder{src: src}
	doc, ok := d.normalize(raw, "").(map[string]any)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	if !ok {
		return nil, ValidationErrors{{File: filename, Line: src.line0, Message: "a template document must be a mapping"}}
	}
	t := d.template(doc, opts.Environment)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	t.src = src
	t.schema = &schemaHolder{}
	return t, nil
}

// yamlError turns a goccy/go-yaml error into an *Error with its line.
func yamlError(filename string, err error) *Error {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		line := 0
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			line = tk.Position.Line
		}
		return &Error{File: filename, Line: line, Message: "invalid YAML: " + oneLine(yerr.GetMessage()), Err: err}
	}
	return &Error{File: filename, Message: "invalid YAML: " + oneLine(err.Error()), Err: err}
}

// readFile reads a template file, refusing files over maxTemplateFileSz.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTemplateFileSz+1))
	if err != nil {
		return nil, fmt.Errorf("reading template: %w", unwrapPath(err))
	}
	if len(data) > maxTemplateFileSz {
		size := int64(len(data))
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			size = info.Size()
		}
		return nil, errors.New(tooLarge(size))
	}
	return data, nil
}

// tooLarge says that a template file of size bytes is over the limit. A
// size just past the limit means "at least" (a stream read up to the limit).
func tooLarge(size int64) string {
	if size == maxTemplateFileSz+1 {
		return printer.Sprintf("template file is larger than %d bytes (4 MiB), the limit", maxTemplateFileSz)
	}
	return printer.Sprintf("template file is %d bytes, limit %d (4 MiB)", size, maxTemplateFileSz)
}

// unwrapPath drops the path from an *fs.PathError: our Error already names
// the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
