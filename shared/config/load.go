package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/knadh/koanf/v2"

	shipped "github.com/tasker-go/tasker/config"
)

// LoadOptions says what to load and from where.
type LoadOptions struct {
	// Root is the directory holding shared/, orchestration/ and worker/,
	// usually "config". Empty means the copy embedded in the binary.
	Root string
	// Context is "shared", "orchestration" or "worker".
	Context string
	// Env is "test", "development" or "production". Empty means the
	// TASKER_ENV variable of Environ, or "development" when that is unset.
	Env string
	// Environ is the environment in os.Environ form ("NAME=value"); it
	// feeds TASKER_ENV, ${VAR} substitution, the DATABASE_URL and
	// TASKER_TEMPLATE_PATH shortcuts and the TASKER__SECTION__KEY
	// overrides. Nil means no environment at all.
	Environ []string
	// Overrides is a last layer, applied after the environment: nested
	// tables keyed as in the TOML files, for example
	//
	//	{"worker": {"handlers": {"max_concurrent": 8}}}
	//
	// with values as TOML, encoding/json or Go code write them (numbers of
	// any type, strings, booleans, lists, durations as strings or
	// time.Duration). It is checked like a file: unknown keys, wrong types
	// and another context's sections are problems. Programs use it for
	// settings given on their command line or in their own configuration.
	Overrides map[string]any
	// OverridesSource names Overrides in problems (default "overrides").
	OverridesSource string
}

// Load reads, merges, substitutes, overrides, decodes and validates the
// configuration of one context. On failure it returns a [Problems] error
// listing everything wrong, each naming the key and where its value came
// from.
func Load(opts LoadOptions) (*Config, error) {
	if !slices.Contains(Contexts, opts.Context) {
		return nil, Problems{{Message: fmt.Sprintf("unknown context %q: want %s", opts.Context, quoteList(Contexts))}}
	}
	env := environMap(opts.Environ)
	envName, err := resolveEnv(opts.Env, env)
	if err != nil {
		return nil, err
	}
	files, display, err := openRoot(opts.Root)
	if err != nil {
		return nil, err
	}

	s := newLoadState(opts.Context, envName, env)
	s.addDefaults()
	layerContexts := []string{ContextShared}
	if opts.Context != ContextShared {
		layerContexts = append(layerContexts, opts.Context)
	}
	for _, lc := range layerContexts {
		s.addFile(files, display, path.Join(lc, "base.toml"), lc, true)
		s.addFile(files, display, path.Join(lc, "environments", envName+".toml"), lc, false)
	}
	s.substitute()
	s.applyDatabaseURL()
	s.applyTemplatePath()
	s.applyOverrides()
	s.applyLayer(opts.Overrides, opts.OverridesSource)
	cfg := s.decode()
	s.validate(cfg)
	if len(s.problems) > 0 {
		return nil, s.problems
	}
	return cfg, nil
}

// resolveEnv picks the environment: the option, else TASKER_ENV, else
// development.
func resolveEnv(explicit string, env map[string]string) (string, error) {
	name, source := explicit, ""
	if name == "" {
		name, source = env["TASKER_ENV"], "environment variable TASKER_ENV"
	}
	if name == "" {
		return DefaultEnv, nil
	}
	if !slices.Contains(Environments, name) {
		return "", Problems{{Source: source, Message: fmt.Sprintf("unknown environment %q: want %s", name, quoteList(Environments))}}
	}
	return name, nil
}

// openRoot returns the file system holding the config tree and a function
// that names a file of it in messages.
func openRoot(root string) (fs.FS, func(string) string, error) {
	if root == "" {
		return shipped.Files, func(name string) string { return "embedded:config/" + name }, nil
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, nil, Problems{{Source: root, Message: fmt.Sprintf("config root: %v", errors.Unwrap(err))}}
	}
	if !info.IsDir() {
		return nil, nil, Problems{{Source: root, Message: "config root is not a directory"}}
	}
	return os.DirFS(root), func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }, nil
}

// environMap turns os.Environ-style entries into a map; as with
// os.Getenv, the first entry for a name wins.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if _, seen := m[name]; !seen {
			m[name] = value
		}
	}
	return m
}

// loadState is one load in progress: the merged layers, where each key's
// value came from, and the problems found so far.
type loadState struct {
	context string
	env     string
	environ map[string]string
	layers  *koanf.Koanf
	merged  map[string]any
	// origin maps a dotted leaf key to the source of its current value
	// (empty for a built-in default).
	origin map[string]string
	// via maps a key to the variables substituted into its value.
	via      map[string][]string
	problems Problems
}

func newLoadState(context, env string, environ map[string]string) *loadState {
	return &loadState{
		context: context,
		env:     env,
		environ: environ,
		layers:  koanf.New("."),
		origin:  make(map[string]string),
		via:     make(map[string][]string),
	}
}

// addDefaults loads the built-in defaults as the first layer.
func (s *loadState) addDefaults() {
	defaults := toMap(encodeTable(schema(), reflect.ValueOf(builtin(s.context)).Elem()))
	s.merge(defaults, "")
}

// addFile parses one TOML file, checks it against the schema on its own
// (so each problem names the file that has it) and merges it in.
func (s *loadState) addFile(files fs.FS, display func(string) string, name, fileContext string, required bool) {
	source := display(name)
	data, err := fs.ReadFile(files, name)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return
	}
	if err != nil {
		msg := fmt.Sprintf("reading: %v", errors.Unwrap(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = "file not found: the config root must hold shared/, orchestration/ and worker/, each with a base.toml"
		}
		s.problems = append(s.problems, Problem{Source: source, Message: msg})
		return
	}
	m, err := tomlParser{}.Unmarshal(data)
	if err != nil {
		s.problems = append(s.problems, Problem{Source: source + tomlErrorPosition(err), Message: tomlErrorMessage(err)})
		return
	}
	check := &decoder{context: fileContext, source: func(string) string { return source }, deferred: true}
	check.decodeRoot(m, builtin(fileContext))
	s.problems = append(s.problems, check.problems...)
	check.drop() // merge the rest, so that later checks still see it
	s.merge(m, source)
}

// merge deep-merges one layer and records the source of its keys.
func (s *loadState) merge(m map[string]any, source string) {
	for key := range leaves(m, "") {
		s.origin[key] = source
	}
	// koanf merges tables key by key and replaces scalars and arrays.
	if err := s.layers.Load(mapProvider(m), nil); err != nil {
		s.problems = append(s.problems, Problem{Source: source, Message: fmt.Sprintf("merging: %v", err)})
	}
}

// leaves yields the dotted paths of the non-table values of m.
func leaves(m map[string]any, prefix string) func(func(string) bool) {
	return func(yield func(string) bool) {
		var walk func(m map[string]any, prefix string) bool
		walk = func(m map[string]any, prefix string) bool {
			for k, v := range m {
				p := joinKey(prefix, k)
				if sub, ok := v.(map[string]any); ok {
					if !walk(sub, p) {
						return false
					}
					continue
				}
				if !yield(p) {
					return false
				}
			}
			return true
		}
		walk(m, prefix)
	}
}

// sourceOf says where the current value of key came from, naming the
// variables substituted into it.
func (s *loadState) sourceOf(key string) string {
	src := s.origin[key]
	if vars := s.via[key]; len(vars) > 0 {
		names := make([]string, len(vars))
		for i, v := range vars {
			names[i] = "${" + v + "}"
		}
		via := "via " + strings.Join(names, ", ")
		if src == "" {
			return "built-in default " + via
		}
		return src + " " + via
	}
	return src
}

// substitute expands ${VAR} references in every string-typed value of the
// merged layers.
func (s *loadState) substitute() {
	s.merged = s.layers.Raw()
	s.walkStrings("", schema(), s.merged)
}

func (s *loadState) walkStrings(prefix string, f *field, m map[string]any) {
	for _, name := range sortedKeys(m) {
		c := f.child(name)
		if c == nil {
			continue
		}
		key := joinKey(prefix, name)
		switch c.kind {
		case kindTable:
			if sub, ok := m[name].(map[string]any); ok {
				s.walkStrings(key, c, sub)
			}
		case kindString, kindDuration:
			if str, ok := m[name].(string); ok {
				if out, ok := s.expand(key, str); ok {
					m[name] = out
				}
			}
		case kindStringList:
			if list, ok := m[name].([]any); ok {
				for i, item := range list {
					if str, ok := item.(string); ok {
						if out, ok := s.expand(key, str); ok {
							list[i] = out
						}
					}
				}
			}
		case kindTableList:
			if list, ok := m[name].([]any); ok {
				for _, item := range list {
					if sub, ok := item.(map[string]any); ok {
						s.walkStrings(key, c, sub)
					}
				}
			}
		}
	}
}

func (s *loadState) expand(key, str string) (string, bool) {
	sub, err := expand(str, s.environ)
	if err != nil {
		s.problems = append(s.problems, Problem{Source: s.sourceOf(key), Key: key, Message: err.Error()})
		return "", false
	}
	if len(sub.used) > 0 {
		s.via[key] = append(s.via[key], sub.used...)
	}
	return sub.value, true
}

// decode writes the merged values into a Config. Files were already
// checked one by one, so a problem reported here for a key already reported
// is left out.
func (s *loadState) decode() *Config {
	cfg := &Config{Context: s.context, Env: s.env}
	d := &decoder{context: s.context, source: s.sourceOf}
	d.decodeRoot(s.merged, cfg)
	for _, p := range d.problems {
		if !s.reported(p.Key) {
			s.problems = append(s.problems, p)
		}
	}
	return cfg
}

func (s *loadState) reported(key string) bool {
	for _, p := range s.problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

// validate runs Config.Validate and attaches sources to its problems.
// Problems of keys already reported are left out.
func (s *loadState) validate(cfg *Config) {
	var ps Problems
	if !errors.As(cfg.Validate(), &ps) {
		return
	}
	for _, p := range ps {
		if p.Key != "" && s.reported(p.Key) {
			continue // its value was already rejected; this is a consequence
		}
		if p.Source == "" {
			p.Source = s.sourceOf(p.Key)
		}
		s.problems = append(s.problems, p)
	}
}
