package native

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/tasker-go/tasker/shared/template"
)

//go:embed templates/*.yaml
var templateFiles embed.FS

// TemplateFS returns the example templates' YAML files (at the root of the
// returned file system), for tools that show or copy them.
func TemplateFS() fs.FS {
	sub, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

// Templates parses and validates the example templates, sorted by key
// (namespace/name/version). Each call parses afresh, so callers own the
// results. They use only callables Register provides, and set
// identity_strategy always_unique so demos and benchmarks can submit the
// same context many times.
func Templates() ([]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing example templates: %w", err)
	}
	var (
		out  []*template.Template
		errs []error
	)
	for _, name := range names {
		data, err := templateFiles.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", name, err))
			continue
		}
		ts, err := template.Parse(data, path.Base(name), template.ParseOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range ts {
			if err := t.Validate(); err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, t)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loading example templates: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}
