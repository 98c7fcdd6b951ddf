package config

import (
	"fmt"
	"strings"
)

// Templates is the [templates] section: where task template YAML files are
// found.
type Templates struct {
	// SearchPaths are directories searched recursively for *.yaml and *.yml
	// task templates; relative paths are relative to the working
	// directory. Default []. Until paths are set, a worker registers only
	// the templates it is given in code (tasker-core's layout would be
	// ["config/tasks"]). The TASKER_TEMPLATE_PATH environment variable, a
	// colon-separated list, replaces it.
	SearchPaths []string `toml:"search_paths"`
}

func defaultTemplates() Templates {
	return Templates{SearchPaths: []string{}}
}

// Validate checks the section; see [Problems].
func (t *Templates) Validate() error {
	var ps Problems
	for i, p := range t.SearchPaths {
		if strings.TrimSpace(p) == "" {
			ps.add("search_paths", fmt.Sprintf("entry %d is empty", i+1))
		}
	}
	return ps.Err()
}
