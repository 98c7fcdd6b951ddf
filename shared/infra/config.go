package infra

import (
	"strings"

	"github.com/tasker-go/tasker/shared/config"
)

// ConfigRootEnv names the variable that sets the default configuration root
// of every command (--config-root, and --root of `tasker config`).
const ConfigRootEnv = "TASKER_CONFIG_ROOT"

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
	cfg, err := config.Load(config.LoadOptions{Root: root, Context: opts.Context, Env: opts.Env, Environ: opts.Environ,
		Overrides: opts.Overrides, OverridesSource: opts.OverridesSource})
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
