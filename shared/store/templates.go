package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/template"
)

// TemplateRegistration is what RegisterTemplate stores for a template.
type TemplateRegistration struct {
	Namespace        string
	Name             string
	Version          string
	Description      string
	IdentityStrategy string
	// Configuration is the whole template as JSON.
	Configuration json.RawMessage
	// StepNames are every step the template can create (named_steps rows).
	StepNames []string
}

// RegisterTemplate upserts a template: its namespace, the named task row
// (configuration replaced) and its named steps, in one transaction.
func (s *Store) RegisterTemplate(ctx context.Context, r TemplateRegistration) (NamedTask, error) {
	if r.Namespace == "" || r.Name == "" || r.Version == "" {
		return NamedTask{}, fmt.Errorf("%w: template namespace, name and version are required", ErrInvalidInput)
	}
	if !json.Valid(r.Configuration) {
		return NamedTask{}, fmt.Errorf("%w: template configuration is not valid JSON", ErrInvalidInput)
	}
	strategy := r.IdentityStrategy
	if strategy == "" {
		strategy = "strict"
	}
	var nt NamedTask
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH ns AS (
				INSERT INTO task_namespaces (name) VALUES ($1)
				ON CONFLICT (name) DO UPDATE SET updated_at = task_namespaces.updated_at
				RETURNING task_namespace_uuid
			)
			INSERT INTO named_tasks (task_namespace_uuid, name, version, description, configuration, identity_strategy)
			SELECT task_namespace_uuid, $2, $3, $4, $5, $6 FROM ns
			ON CONFLICT (task_namespace_uuid, name, version) DO UPDATE
			SET description = EXCLUDED.description, configuration = EXCLUDED.configuration,
			    identity_strategy = EXCLUDED.identity_strategy, updated_at = now()
			RETURNING named_task_uuid, task_namespace_uuid, name, version, COALESCE(description, '') AS description,
			          configuration, identity_strategy, created_at, updated_at`,
			r.Namespace, r.Name, r.Version, nullIfEmpty(r.Description), r.Configuration, strategy)
		if err != nil {
			return err
		}
		// Lax: the namespace's name and the step count are not columns of
		// the row; they are set below.
		nt, err = pgx.CollectOneRow(rows, pgx.RowToStructByNameLax[NamedTask])
		if err != nil {
			return err
		}
		if len(r.StepNames) > 0 {
			_, err = tx.Exec(ctx, `INSERT INTO named_steps (name) SELECT unnest($1::text[])
				ON CONFLICT (name) DO NOTHING`, r.StepNames)
		}
		return err
	})
	if err != nil {
		return NamedTask{}, fmt.Errorf("registering template %s/%s/%s: %w", r.Namespace, r.Name, r.Version, err)
	}
	nt.Namespace = r.Namespace
	nt.StepCount = len(r.StepNames)
	return nt, nil
}

// namedTaskColumns are the columns of a NamedTask, named as its db tags
// say.
const namedTaskColumns = `nt.named_task_uuid, nt.task_namespace_uuid, ns.name AS namespace, nt.name, nt.version,
	COALESCE(nt.description, '') AS description, nt.configuration, nt.identity_strategy,
	COALESCE(jsonb_array_length(nt.configuration -> 'steps'), 0) AS step_count, nt.created_at, nt.updated_at`

// versionOrder sorts named tasks newest version first: numerically by the
// dot-separated parts of the version (an optional leading "v" and any
// "-prerelease" or "+build" suffix aside; a part that is not a number sorts
// below every number), then a release above its pre-releases, then by text.
// Registration order plays no part: re-registering an old version does not
// make it the latest.
const versionOrder = `(SELECT array_agg(CASE WHEN p ~ '^[0-9]{1,9}$' THEN p::int ELSE -1 END ORDER BY i)
		FROM unnest(string_to_array(split_part(split_part(ltrim(nt.version, 'vV'), '+', 1), '-', 1), '.'))
			WITH ORDINALITY AS v(p, i)) DESC NULLS LAST,
		(strpos(split_part(nt.version, '+', 1), '-') = 0) DESC, nt.version DESC`

// GetNamedTask loads a registered template. An empty version picks the
// highest version (see versionOrder).
func (s *Store) GetNamedTask(ctx context.Context, namespace, name, version string) (NamedTask, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+namedTaskColumns+`
		FROM named_tasks nt JOIN task_namespaces ns USING (task_namespace_uuid)
		WHERE ns.name = $1 AND nt.name = $2 AND ($3 = '' OR nt.version = $3)
		ORDER BY `+versionOrder+` LIMIT 1`, namespace, name, version)
	var nt NamedTask
	if err == nil {
		nt, err = pgx.CollectOneRow(rows, pgx.RowToStructByName[NamedTask])
	}
	if err != nil {
		return NamedTask{}, notFound(fmt.Sprintf("template %s/%s/%s", namespace, name, version), err)
	}
	return nt, nil
}

// ListNamedTasks lists registered templates, optionally of one namespace.
func (s *Store) ListNamedTasks(ctx context.Context, namespace string) ([]NamedTask, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+namedTaskColumns+`
		FROM named_tasks nt JOIN task_namespaces ns USING (task_namespace_uuid)
		WHERE $1 = '' OR ns.name = $1
		ORDER BY ns.name, nt.name, nt.version`, namespace)
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[NamedTask])
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	return out, nil
}

// ListNamespaces lists namespaces with their template counts.
func (s *Store) ListNamespaces(ctx context.Context) ([]Namespace, error) {
	rows, err := s.pool.Query(ctx, `SELECT ns.task_namespace_uuid, ns.name, COALESCE(ns.description, '') AS description,
			count(nt.named_task_uuid) AS template_count
		FROM task_namespaces ns LEFT JOIN named_tasks nt USING (task_namespace_uuid)
		GROUP BY ns.task_namespace_uuid ORDER BY ns.name`)
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Namespace])
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	return out, nil
}

// NamedStepIDs returns the named_steps ids of the given names, creating
// rows for names not registered yet.
func (s *Store) NamedStepIDs(ctx context.Context, names []string) (map[string]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `
		WITH ins AS (
			INSERT INTO named_steps (name) SELECT unnest($1::text[])
			ON CONFLICT (name) DO NOTHING RETURNING name, named_step_uuid
		)
		SELECT name, named_step_uuid FROM ins
		UNION ALL
		SELECT name, named_step_uuid FROM named_steps WHERE name = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("loading named steps: %w", err)
	}
	type namedStep struct {
		Name string    `db:"name"`
		ID   uuid.UUID `db:"named_step_uuid"`
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[namedStep])
	if err != nil {
		return nil, fmt.Errorf("loading named steps: %w", err)
	}
	out := make(map[string]uuid.UUID, len(found))
	for _, n := range found {
		out[n.Name] = n.ID
	}
	return out, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RegistrationOf is what RegisterTemplate stores for a parsed template.
func RegistrationOf(t *template.Template) (TemplateRegistration, error) {
	cfg, err := json.Marshal(t)
	if err != nil {
		return TemplateRegistration{}, fmt.Errorf("encoding template %s: %w", t.Key(), err)
	}
	names := make([]string, 0, len(t.Steps))
	for _, s := range t.Steps {
		names = append(names, s.Name)
	}
	return TemplateRegistration{
		Namespace: t.NamespaceName, Name: t.Name, Version: t.Version, Description: t.Description,
		IdentityStrategy: string(t.IdentityStrategy), Configuration: cfg, StepNames: names,
	}, nil
}

// RegisterTemplates upserts parsed templates and ensures each namespace's
// worker queue exists.
func (s *Store) RegisterTemplates(ctx context.Context, tpls []*template.Template) ([]NamedTask, error) {
	out := make([]NamedTask, 0, len(tpls))
	for _, t := range tpls {
		reg, err := RegistrationOf(t)
		if err != nil {
			return out, err
		}
		nt, err := s.RegisterTemplate(ctx, reg)
		if err != nil {
			return out, err
		}
		if err := s.queue.Ensure(ctx, messaging.WorkerQueue(t.NamespaceName)); err != nil {
			return out, err
		}
		out = append(out, nt)
	}
	return out, nil
}
