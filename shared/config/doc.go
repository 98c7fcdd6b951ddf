// Package config defines Tasker's typed configuration and loads it from
// layered TOML files.
//
// A service loads the shared sections ([database], [queues], [backoff],
// [templates]) plus the sections of its own context ([orchestration] or
// [worker]). Layers are applied in this order, each deep-merged over the one
// before (tables merge key by key; scalars and arrays replace):
//
//  1. the built-in defaults ([Default]);
//  2. shared/base.toml, then shared/environments/<env>.toml;
//  3. <context>/base.toml, then <context>/environments/<env>.toml
//     (a context file may also override shared sections for that service);
//  4. ${VAR} and ${VAR:-default} substitution in every string value;
//  5. the DATABASE_URL and TASKER_TEMPLATE_PATH shortcuts, then
//     TASKER__SECTION__KEY=value overrides from the environment.
//
// The result is decoded into [Config] and validated. Every problem found on
// the way (unknown key, wrong type, bad value, missing variable) is
// collected into one [Problems] error that names the key and, where the value
// came from a file or variable, its source.
//
// The package never reads the process environment itself: callers pass it in
// [LoadOptions.Environ]. With an empty [LoadOptions.Root] the files come from
// the copy embedded in the binary (package github.com/tasker-go/tasker/config).
package config
