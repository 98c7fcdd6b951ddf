package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// loadTemplates parses the templates on the search paths and adds the extra
// ones. A search path that does not exist is skipped with a warning; a
// template that does not parse or validate is an error naming its file and
// line.
func (c *Core) loadTemplates() ([]*template.Template, error) {
	var paths []string
	for _, p := range c.opts.Templates.SearchPaths {
		if !strings.ContainsAny(p, "*?[{") {
			if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
				c.log.Warn("template search path does not exist; skipping", "path", p)
				continue
			}
		}
		paths = append(paths, p)
	}
	var tpls []*template.Template
	if len(paths) > 0 {
		found, err := template.LoadPaths(paths, template.ParseOptions{Environment: c.opts.Environment})
		if err != nil {
			return nil, fmt.Errorf("worker: loading templates: %w", err)
		}
		tpls = found
	}
	seen := map[string]bool{}
	for _, t := range tpls {
		seen[t.Key()] = true
	}
	for _, t := range c.opts.ExtraTemplates {
		if t == nil {
			continue
		}
		if seen[t.Key()] {
			c.log.Info("template on the search path overrides the built-in one", "template", t.Key())
			continue
		}
		seen[t.Key()] = true
		tpls = append(tpls, t)
	}
	var errs []error
	for _, t := range tpls {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("worker: invalid templates: %w", errors.Join(errs...))
	}
	return tpls, nil
}

// registerTemplates upserts every template into the database.
func (c *Core) registerTemplates(ctx context.Context, tpls []*template.Template) error {
	for _, t := range tpls {
		cfg, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("worker: encoding template %s: %w", t.Key(), err)
		}
		names := make([]string, len(t.Steps))
		for i, s := range t.Steps {
			names[i] = s.Name
		}
		_, err = c.store.RegisterTemplate(ctx, store.TemplateRegistration{
			Namespace: t.NamespaceName, Name: t.Name, Version: t.Version, Description: t.Description,
			IdentityStrategy: string(t.IdentityStrategy.Effective()), Configuration: cfg, StepNames: names,
		})
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	return nil
}

// namespacesOf returns the configured namespaces, else every namespace of
// the templates, sorted.
func namespacesOf(configured []string, tpls []*template.Template) []string {
	if len(configured) > 0 {
		return slices.Clone(configured)
	}
	var out []string
	for _, t := range tpls {
		if !slices.Contains(out, t.NamespaceName) {
			out = append(out, t.NamespaceName)
		}
	}
	slices.Sort(out)
	return out
}

func queuesOf(namespaces []string) []string {
	out := make([]string, len(namespaces))
	for i, ns := range namespaces {
		out[i] = messaging.WorkerQueue(ns)
	}
	return out
}
