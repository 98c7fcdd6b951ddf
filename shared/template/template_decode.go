package template

import "slices"

// template builds a Template from a normalized YAML document. When env is
// set, that environment's step overrides are merged into the document first.
func (d *decoder) template(doc map[string]any, env string) *Template {
	d.keys(doc, "", templateKeys)
	t := &Template{
		Name:             d.str(doc, "", "name"),
		NamespaceName:    d.str(doc, "", "namespace_name"),
		Version:          d.str(doc, "", "version"),
		Description:      d.str(doc, "", "description"),
		Metadata:         d.metadata(doc["metadata"], "metadata"),
		InputSchema:      d.raw(doc, "", "input_schema"),
		IdentityStrategy: IdentityStrategy(d.str(doc, "", "identity_strategy")),
	}
	t.SystemDependencies = d.systemDependencies(doc["system_dependencies"], "system_dependencies")
	t.DomainEvents = d.domainEvents(doc["domain_events"], "domain_events")
	t.Lifecycle = d.lifecycle(doc["lifecycle"], "lifecycle")

	before := len(d.errs)
	t.Environments = d.environments(doc["environments"], "environments")
	if env != "" && len(d.errs) == before {
		d.mergeEnvironment(doc, env)
	}
	t.Steps = d.steps(doc["steps"], "steps")
	return t
}

func (d *decoder) metadata(v any, path string) *Metadata {
	m := d.object(v, path)
	if m == nil {
		return nil
	}
	md := &Metadata{
		Author:           d.str(m, path, "author"),
		Tags:             d.strings(m, path, "tags"),
		DocumentationURL: d.str(m, path, "documentation_url"),
		CreatedAt:        d.str(m, path, "created_at"),
		UpdatedAt:        d.str(m, path, "updated_at"),
		Notes:            d.str(m, path, "notes"),
	}
	for k, x := range m {
		if !slices.Contains(metadataKeys, k) {
			if md.Extra == nil {
				md.Extra = map[string]any{}
			}
			md.Extra[k] = x
		}
	}
	return md
}

func (d *decoder) systemDependencies(v any, path string) SystemDependencies {
	sd := SystemDependencies{Primary: DefaultSystemDependency, Secondary: []string{}}
	m := d.object(v, path)
	if m == nil {
		return sd
	}
	d.keys(m, path, systemDependencyKeys)
	if p := d.str(m, path, "primary"); p != "" {
		sd.Primary = p
	}
	if s := d.strings(m, path, "secondary"); s != nil {
		sd.Secondary = s
	}
	return sd
}

func (d *decoder) domainEvents(v any, path string) []DomainEvent {
	items := d.list(v, path)
	if items == nil {
		return nil
	}
	out := make([]DomainEvent, 0, len(items))
	for i, it := range items {
		p := index(path, i)
		m := d.object(it, p)
		if m == nil {
			if it == nil {
				d.add(p, "must be a mapping")
			}
			continue
		}
		d.keys(m, p, domainEventKeys)
		out = append(out, DomainEvent{
			Name:        d.str(m, p, "name"),
			Description: d.str(m, p, "description"),
			Schema:      d.raw(m, p, "schema"),
		})
	}
	return out
}

func (d *decoder) lifecycle(v any, path string) *Lifecycle {
	m := d.object(v, path)
	if m == nil {
		return nil
	}
	d.keys(m, path, lifecycleKeys)
	lc := &Lifecycle{}
	intp := func(key string) *int {
		if n, ok := d.integer(m, path, key); ok {
			return &n
		}
		return nil
	}
	boolp := func(key string) *bool {
		if b, ok := d.boolean(m, path, key); ok {
			return &b
		}
		return nil
	}
	lc.MaxDurationMinutes = intp("max_duration_minutes")
	lc.MaxWaitingForDependenciesMinutes = intp("max_waiting_for_dependencies_minutes")
	lc.MaxWaitingForRetryMinutes = intp("max_waiting_for_retry_minutes")
	lc.MaxStepsInProcessMinutes = intp("max_steps_in_process_minutes")
	if a := d.str(m, path, "staleness_action"); a != "" {
		lc.StalenessAction = StalenessAction(a)
	}
	lc.AutoFailOnTimeout = boolp("auto_fail_on_timeout")
	lc.AutoDLQOnTimeout = boolp("auto_dlq_on_timeout")
	return lc
}
