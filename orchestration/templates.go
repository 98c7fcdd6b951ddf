package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// cachedTemplate is a registered template ready to instantiate.
type cachedTemplate struct {
	named     store.NamedTask
	tpl       *template.Template
	stepIDs   map[string]uuid.UUID // named_steps ids by step name
	initial   []*template.Step
	loadedAt  time.Time
	schemaErr error
}

// templateCache keeps parsed templates for a short while so task creation
// does not re-read and re-parse them every time. The template is loaded
// before any transaction starts (tasker-core learned that loading it inside
// one can exhaust the pool).
type templateCache struct {
	store *store.Store
	ttl   time.Duration

	mu      sync.Mutex
	entries map[string]*cachedTemplate
}

func newTemplateCache(s *store.Store, ttl time.Duration) *templateCache {
	return &templateCache{store: s, ttl: ttl, entries: map[string]*cachedTemplate{}}
}

func (c *templateCache) get(ctx context.Context, namespace, name, version string) (*cachedTemplate, error) {
	key := namespace + "/" + name + "/" + version
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(e.loadedAt) < c.ttl {
		return e, nil
	}
	nt, err := c.store.GetNamedTask(ctx, namespace, name, version)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%s/%s version %q: %w", namespace, name, version, ErrTemplateNotFound)
		}
		return nil, err
	}
	var tpl template.Template
	if err := json.Unmarshal(nt.Configuration, &tpl); err != nil {
		return nil, fmt.Errorf("template %s/%s/%s is stored in a form this version cannot read: %w",
			nt.Namespace, nt.Name, nt.Version, err)
	}
	names := make([]string, 0, len(tpl.Steps))
	for _, s := range tpl.Steps {
		names = append(names, s.Name)
	}
	ids, err := c.store.NamedStepIDs(ctx, names)
	if err != nil {
		return nil, err
	}
	e = &cachedTemplate{named: nt, tpl: &tpl, stepIDs: ids, initial: tpl.InitialSteps(), loadedAt: time.Now()}
	if _, err := tpl.CompileInputSchema(); err != nil {
		e.schemaErr = err
	}
	c.mu.Lock()
	c.entries[key] = e
	c.mu.Unlock()
	return e, nil
}
