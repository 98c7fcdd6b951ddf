package infra

import (
	"os"
	"strings"

	"github.com/tasker-go/tasker/shared/config"
)

// ConfigRootEnv names the variable that sets the default configuration root
// of every command (--config-root, and --root of `tasker config`).
const ConfigRootEnv = "TASKER_CONFIG_ROOT"

// ConfigPathEnv names tasker-core's variable for its one merged
// configuration file; when set, that file is translated (see
// config.TranslateTaskerCore) and layered over this configuration.
const ConfigPathEnv = "TASKER_CONFIG_PATH"

// MessagingBackendEnv selects the queue backend, as in tasker-core: pgmq
// (this engine's postgres backend) or rabbitmq.
const MessagingBackendEnv = "TASKER_MESSAGING_BACKEND"

// ConfigOptions say which configuration a command loads.
type ConfigOptions struct {
	// Root is the --config-root flag. Empty means $TASKER_CONFIG_ROOT, else
	// the copy built into the binary.
	Root string
	// Context is "shared", "orchestration" or "worker".
	Context string
	// Env is the --env flag. Empty means $TASKER_ENV, else development.
	Env string
	// DatabaseURL and Schema are the --database-url and --schema flags;
	// when set they win over every other source.
	DatabaseURL string
	Schema      string
	// Environ is the process environment in os.Environ form.
	Environ []string
	// Overrides and OverridesSource are a last layer of settings, applied
	// after the environment and before DatabaseURL and Schema (see
	// config.LoadOptions).
	Overrides       map[string]any
	OverridesSource string
}

// LoadConfig loads a command's configuration. Every command loads through
// it, so all of them take each setting from the same places. The database
// URL comes from, strongest first:
//
//  1. the --database-url flag (ConfigOptions.DatabaseURL), then
//     ConfigOptions.Overrides;
//  2. TASKER__DATABASE__URL;
//  3. DATABASE_URL;
//  4. database.url in the configuration files;
//  5. the built-in default, postgres://postgres@127.0.0.1:5432/tasker.
//
// config.Load applies 2 to 5; LoadConfig adds the flag. The schema is the
// same without 3. Errors are config.Problems, as config.Load returns them.
func LoadConfig(opts ConfigOptions) (*config.Config, error) {
	root := opts.Root
	if root == "" {
		root = lookupEnv(opts.Environ, ConfigRootEnv)
	}
	environ := opts.Environ
	if lookupEnv(environ, MessagingBackendEnv) == "pgmq" {
		// tasker-core's name of the PostgreSQL queue backend.
		environ = append([]string{MessagingBackendEnv + "=postgres"}, environ...)
	}
	overrides, source := opts.Overrides, opts.OverridesSource
	if path := lookupEnv(environ, ConfigPathEnv); path != "" && opts.Context != config.ContextShared {
		tr, err := ReadTaskerCoreConfig(path, opts.Context, environ)
		if err != nil {
			return nil, err
		}
		overrides = mergeLayers(tr.Layer, overrides)
		if source == "" {
			source = path + " (tasker-core configuration)"
		} else {
			source += " and " + path
		}
	}
	cfg, err := config.Load(config.LoadOptions{Root: root, Context: opts.Context, Env: opts.Env, Environ: environ,
		Overrides: overrides, OverridesSource: source})
	if err != nil {
		return nil, err
	}
	if opts.DatabaseURL != "" {
		cfg.Database.URL = opts.DatabaseURL
	}
	if opts.Schema != "" {
		cfg.Database.Schema = opts.Schema
	}
	return cfg, nil
}

// lookupEnv returns the value of name in an os.Environ-style list; as with
// os.Getenv, the first entry wins.
func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// ReadTaskerCoreConfig reads and translates a tasker-core configuration file
// for a context.
func ReadTaskerCoreConfig(path, context string, environ []string) (*config.TaskerCoreTranslation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, config.Problems{{Source: ConfigPathEnv, Message: "reading the tasker-core configuration: " + err.Error()}}
	}
	return config.TranslateTaskerCore(data, path, context, environ)
}

// mergeLayers returns base with over merged into it (over wins; tables
// merge key by key).
func mergeLayers(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if sub, ok := v.(map[string]any); ok {
			if prev, ok := out[k].(map[string]any); ok {
				out[k] = mergeLayers(prev, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}
