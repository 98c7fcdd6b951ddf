package config

import (
	"fmt"
	"slices"
)

// Contexts: which service a configuration is for. Each context loads the
// shared sections plus its own.
const (
	// ContextShared loads only the shared sections ([database], [queues],
	// [backoff], [templates], [telemetry]); for tools that need no service settings.
	ContextShared = "shared"
	// ContextOrchestration adds the [orchestration] section.
	ContextOrchestration = "orchestration"
	// ContextWorker adds the [worker] section.
	ContextWorker = "worker"
)

// Environments: which environments/<env>.toml file is layered over base.toml.
const (
	EnvTest        = "test"
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Contexts lists the valid contexts.
var Contexts = []string{ContextShared, ContextOrchestration, ContextWorker}

// Environments lists the valid environments.
var Environments = []string{EnvTest, EnvDevelopment, EnvProduction}

// DefaultEnv is the environment used when neither LoadOptions.Env nor
// TASKER_ENV names one.
const DefaultEnv = EnvDevelopment

// Config is the whole configuration of one service. Shared sections are
// always present; Orchestration and Worker are non-nil only for their
// context.
type Config struct {
	// Context is the context this configuration was loaded for (not a TOML
	// key).
	Context string `toml:"-"`
	// Env is the environment whose files were layered in (not a TOML key).
	Env string `toml:"-"`

	// Database is the PostgreSQL connection and pool.
	Database Database `toml:"database"`
	// Queues selects and tunes the message queue backend.
	Queues Queues `toml:"queues"`
	// Backoff jitters retry delays and caps the delays handlers ask for;
	// the backoff itself is each template step's.
	Backoff Backoff `toml:"backoff"`
	// Templates says where task template files are found.
	Templates Templates `toml:"templates"`
	// Telemetry turns on OpenTelemetry tracing and says where spans go.
	Telemetry Telemetry `toml:"telemetry"`
	// Orchestration is the orchestration service's settings; nil unless
	// Context is "orchestration".
	Orchestration *Orchestration `toml:"orchestration"`
	// Worker is the worker service's settings; nil unless Context is
	// "worker".
	Worker *Worker `toml:"worker"`
}

// sectionContext says which context owns a top-level section that is not
// shared.
var sectionContext = map[string]string{
	"orchestration": ContextOrchestration,
	"worker":        ContextWorker,
}

// Default returns the built-in defaults for a context ("shared",
// "orchestration" or "worker"), with ${VAR:-default} values resolved as if
// no environment variable were set. It reads no file and no environment,
// so tests and `tasker dev` work without a config directory. The shipped
// base.toml files state exactly these values, and the development
// environment adds nothing to them, so Default(ctx) equals
// Load(LoadOptions{Context: ctx}). It panics on an unknown context.
func Default(context string) *Config {
	if !slices.Contains(Contexts, context) {
		panic(fmt.Sprintf("config.Default: unknown context %q", context))
	}
	s := newLoadState(context, DefaultEnv, nil)
	s.addDefaults()
	s.substitute()
	cfg := s.decode()
	if len(s.problems) > 0 {
		panic("config.Default: built-in defaults do not decode: " + s.problems.Error())
	}
	return cfg
}

// builtin returns the built-in defaults before ${VAR} substitution: the
// first layer of every load.
func builtin(context string) *Config {
	c := &Config{
		Context:   context,
		Env:       DefaultEnv,
		Database:  defaultDatabase(),
		Queues:    defaultQueues(),
		Backoff:   defaultBackoff(),
		Templates: defaultTemplates(),
		Telemetry: defaultTelemetry(),
	}
	switch context {
	case ContextOrchestration:
		o := defaultOrchestration()
		c.Orchestration = &o
	case ContextWorker:
		w := defaultWorker()
		c.Worker = &w
	}
	return c
}

// Validate checks every section and returns [Problems] naming each bad key,
// or nil.
func (c *Config) Validate() error {
	var ps Problems
	if !slices.Contains(Contexts, c.Context) {
		ps.add("", fmt.Sprintf("unknown context %q: want %s", c.Context, quoteList(Contexts)))
	}
	if c.Env != "" && !slices.Contains(Environments, c.Env) {
		ps.add("", fmt.Sprintf("unknown environment %q: want %s", c.Env, quoteList(Environments)))
	}
	ps.nest("database", c.Database.Validate())
	ps.nest("queues", c.Queues.Validate())
	ps.nest("backoff", c.Backoff.Validate())
	ps.nest("templates", c.Templates.Validate())
	ps.nest("telemetry", c.Telemetry.Validate())
	switch {
	case c.Orchestration != nil:
		ps.nest("orchestration", c.Orchestration.Validate())
	case c.Context == ContextOrchestration:
		ps.add("orchestration", "missing for the orchestration context")
	}
	switch {
	case c.Worker != nil:
		ps.nest("worker", c.Worker.Validate())
	case c.Context == ContextWorker:
		ps.add("worker", "missing for the worker context")
	}
	if c.Orchestration != nil && c.Context != ContextOrchestration {
		ps.add("orchestration", fmt.Sprintf("set, but the context is %q", c.Context))
	}
	if c.Worker != nil && c.Context != ContextWorker {
		ps.add("worker", fmt.Sprintf("set, but the context is %q", c.Context))
	}
	return ps.Err()
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := *c
	out.Templates.SearchPaths = slices.Clone(c.Templates.SearchPaths)
	if c.Orchestration != nil {
		o := *c.Orchestration
		o.Web.Auth = o.Web.Auth.clone()
		out.Orchestration = &o
	}
	if c.Worker != nil {
		w := *c.Worker
		w.Namespaces = slices.Clone(c.Worker.Namespaces)
		w.Web.Auth = w.Web.Auth.clone()
		out.Worker = &w
	}
	return &out
}
