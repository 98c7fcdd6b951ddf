package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// overridePrefix starts an environment override: TASKER__SECTION__KEY.
const overridePrefix = "TASKER__"

// databaseURLVar names the variable that replaces database.url when set.
const databaseURLVar = "DATABASE_URL"

// applyDatabaseURL applies the DATABASE_URL shortcut: when set and not
// empty, it replaces database.url from every file. TASKER__DATABASE__URL,
// applied after it, still wins; a --database-url flag (applied by the
// caller) wins over both.
func (s *loadState) applyDatabaseURL() {
	if v := s.environ[databaseURLVar]; v != "" {
		s.set([]string{"database", "url"}, v, "environment variable "+databaseURLVar)
	}
}

// applyTemplatePath applies the TASKER_TEMPLATE_PATH shortcut: a
// colon-separated list that replaces templates.search_paths.
func (s *loadState) applyTemplatePath() {
	v := s.environ["TASKER_TEMPLATE_PATH"]
	if v == "" {
		return
	}
	var list []any
	for _, p := range filepath.SplitList(v) {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	s.set([]string{"templates", "search_paths"}, list, "environment variable TASKER_TEMPLATE_PATH")
}

// applyOverrides applies TASKER__SECTION__KEY=value variables, in name
// order. Names are case-insensitive; "__" separates key segments. An
// override of another context's section is ignored, so one environment can
// configure every service.
func (s *loadState) applyOverrides() {
	names := make([]string, 0)
	for name := range s.environ {
		if len(name) > len(overridePrefix) && strings.EqualFold(name[:len(overridePrefix)], overridePrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		s.applyOverride(name, s.environ[name])
	}
}

func (s *loadState) applyOverride(name, value string) {
	source := "environment variable " + name
	segments := strings.Split(strings.ToLower(name[len(overridePrefix):]), "__")
	key := strings.Join(segments, ".")
	if slices.Contains(segments, "") {
		s.problems = append(s.problems, Problem{Source: source, Message: "malformed override name: want TASKER__SECTION__KEY with single \"__\" between segments"})
		return
	}
	if owner, ok := sectionContext[segments[0]]; ok && owner != s.context {
		return // for the other service
	}
	f := schema()
	for i, seg := range segments {
		c := f.child(seg)
		if c == nil || f.kind != kindTable {
			prefix := strings.Join(segments[:i], ".")
			msg := fmt.Sprintf("unknown key %q", key)
			if note, ok := removedKeys[key]; ok {
				msg += ": " + note
			} else if f.kind == kindTable {
				if hint := suggest(seg, f.childKeys()); hint != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", envName(joinKey(prefix, hint)))
				}
			} else {
				msg += fmt.Sprintf(" (%s is not a table)", prefix)
			}
			s.problems = append(s.problems, Problem{Source: source, Key: key, Message: msg, Unknown: true})
			return
		}
		f = c
	}
	if f.kind == kindTable {
		example := envName(joinKey(key, f.fields[0].key))
		s.problems = append(s.problems, Problem{Source: source, Key: key, Message: fmt.Sprintf("is a table; override one of its keys, e.g. %s", example)})
		return
	}
	v, err := parseOverride(f.kind, value)
	if err != nil {
		s.problems = append(s.problems, Problem{Source: source, Key: key, Message: err.Error()})
		return
	}
	s.set(segments, v, source)
}

// EnvName returns the environment variable that overrides a dotted key:
// EnvName("worker.web.bind_address") is TASKER__WORKER__WEB__BIND_ADDRESS.
func EnvName(key string) string { return envName(key) }

// envName is the override variable for a dotted key.
func envName(key string) string {
	return overridePrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// parseOverride parses an override value as the key's type, producing the
// value a TOML file would have.
func parseOverride(k kind, value string) (any, error) {
	switch k {
	case kindString:
		return value, nil
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("invalid boolean %q: want true or false", value)
		}
		return b, nil
	case kindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q", value)
		}
		return n, nil
	case kindFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", value)
		}
		return x, nil
	case kindDuration:
		if _, err := parseDuration(value); err != nil {
			return nil, err
		}
		return strings.TrimSpace(value), nil
	case kindStringList:
		list := []any{}
		for _, item := range strings.Split(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		return list, nil
	case kindTableList:
		var list []any
		if err := json.Unmarshal([]byte(value), &list); err != nil {
			return nil, fmt.Errorf(`invalid value: want a JSON array of objects, e.g. [{"name": "ci", …}] (%v)`, err)
		}
		return normalizeLayerValue(list), nil
	}
	return nil, fmt.Errorf("cannot be overridden")
}

// set puts a value into the merged map at a key path, creating tables on
// the way, and records its source.
func (s *loadState) set(segments []string, v any, source string) {
	m := s.merged
	for _, seg := range segments[:len(segments)-1] {
		sub, ok := m[seg].(map[string]any)
		if !ok {
			sub = make(map[string]any)
			m[seg] = sub
		}
		m = sub
	}
	m[segments[len(segments)-1]] = v
	key := strings.Join(segments, ".")
	s.origin[key] = source
	delete(s.via, key)
}
