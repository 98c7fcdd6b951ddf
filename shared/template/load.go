package template

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// maxBraceExpansions caps how many patterns one {a,b} pattern may expand to.
const maxBraceExpansions = 256

// LoadPaths parses every template found under paths. A path may be a file
// (parsed whatever its extension), a directory (searched recursively for
// *.yml and *.yaml) or a glob; globs support *, ?, [...], {a,b} and ** for
// any number of directories, as in "config/tasks/**/*.{yml,yaml}".
//
// Problems in one file do not stop the others: LoadPaths returns every
// template that decoded cleanly together with a ValidationErrors holding all
// problems, including unreadable paths and templates defined twice (same
// namespace, name and version; the second is dropped). The templates are
// not validated: call Validate on each.
func LoadPaths(paths []string, opts ParseOptions) ([]*Template, error) {
	files, errs := expandPaths(paths)
	var out []*Template
	seen := map[string]*Template{}
	for _, f := range files {
		tpls, err := ParseFile(f, opts)
		errs = appendError(errs, err)
		for _, t := range tpls {
			if first, dup := seen[t.Key()]; dup {
				errs = append(errs, &Error{
					File: t.File(), Line: t.Line("name"),
					Message: fmt.Sprintf("template %s is already defined at %s:%d", t.Key(), first.File(), first.Line("name")),
				})
				continue
			}
			seen[t.Key()] = t
			out = append(out, t)
		}
	}
	return out, errs.err()
}

// appendError adds err to errs, flattening a ValidationErrors.
func appendError(errs ValidationErrors, err error) ValidationErrors {
	if err == nil {
		return errs
	}
	var ve ValidationErrors
	if errors.As(err, &ve) {
		return append(errs, ve...)
	}
	return append(errs, &Error{Message: err.Error(), Err: err})
}

// expandPaths turns files, directories and globs into a list of files, in
// argument order, each file once.
func expandPaths(paths []string) ([]string, ValidationErrors) {
	var (
		files []string
		errs  ValidationErrors
		seen  = map[string]bool{}
	)
	add := func(found []string) {
		sort.Strings(found)
		for _, f := range found {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	for _, p := range paths {
		info, statErr := os.Stat(p)
		switch {
		case statErr == nil && info.IsDir():
			found, err := templatesIn(p)
			if err != nil {
				errs = append(errs, &Error{File: p, Message: err.Error(), Err: err})
			}
			add(found)
		case statErr == nil:
			add([]string{p})
		case strings.ContainsAny(p, "*?[{"):
			found, err := glob(p)
			switch {
			case err != nil:
				errs = append(errs, &Error{File: p, Message: err.Error(), Err: err})
			case len(found) == 0:
				errs = append(errs, &Error{File: p, Message: "no template files match"})
			}
			add(found)
		default:
			errs = append(errs, &Error{File: p, Message: "cannot read: " + unwrapPath(statErr).Error(), Err: statErr})
		}
	}
	return files, errs
}

// templatesIn lists the *.yml and *.yaml files below dir.
func templatesIn(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isYAMLName(path) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("searching for templates: %w", err)
	}
	return out, nil
}

func isYAMLName(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yml" || ext == ".yaml"
}

// glob expands a pattern with {a,b} alternatives and ** segments. Matched
// directories are searched for templates.
func glob(pattern string) ([]string, error) {
	patterns, err := expandBraces(pattern)
	if err != nil {
		return nil, err
	}
	var matches []string
	for _, p := range patterns {
		var found []string
		if strings.Contains(p, "**") {
			found, err = globStar(p)
		} else {
			found, err = filepath.Glob(p)
		}
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", p, err)
		}
		for _, f := range found {
			info, err := os.Stat(f)
			switch {
			case err != nil:
				continue
			case info.IsDir():
				inDir, err := templatesIn(f)
				if err != nil {
					return nil, err
				}
				matches = append(matches, inDir...)
			default:
				matches = append(matches, f)
			}
		}
	}
	sort.Strings(matches)
	return slices.Compact(matches), nil
}

// expandBraces expands the first {a,b,...} group recursively.
func expandBraces(pattern string) ([]string, error) {
	open := strings.IndexByte(pattern, '{')
	if open < 0 {
		return []string{pattern}, nil
	}
	depth, end := 0, -1
	var commas []int
	for i := open; i < len(pattern) && end < 0; i++ {
		switch pattern[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				end = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("bad pattern %q: unclosed {", pattern)
	}
	var out []string
	start := open + 1
	for _, stop := range append(commas, end) {
		alt := pattern[:open] + pattern[start:stop] + pattern[end+1:]
		more, err := expandBraces(alt)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
		if len(out) > maxBraceExpansions {
			return nil, fmt.Errorf("bad pattern %q: too many {} alternatives", pattern)
		}
		start = stop + 1
	}
	return out, nil
}

// globStar matches a pattern holding ** segments by walking the directory
// above its first wildcard.
func globStar(pattern string) ([]string, error) {
	segs := strings.Split(filepath.ToSlash(pattern), "/")
	rootSegs := 0
	for rootSegs < len(segs) && !strings.ContainsAny(segs[rootSegs], "*?[") {
		rootSegs++
	}
	root := filepath.FromSlash(strings.Join(segs[:rootSegs], "/"))
	if root == "" {
		root = "."
		if strings.HasPrefix(pattern, "/") {
			root = "/"
		}
	}
	rest := segs[rootSegs:]
	for _, s := range rest {
		if s != "**" {
			if _, err := filepath.Match(s, ""); err != nil {
				return nil, err
			}
		}
	}
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return nil
		}
		if matchSegments(rest, strings.Split(filepath.ToSlash(rel), "/")) {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// matchSegments matches path segments against pattern segments, where "**"
// matches any number of segments.
func matchSegments(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchSegments(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	if ok, _ := filepath.Match(pat[0], name[0]); !ok {
		return false
	}
	return matchSegments(pat[1:], name[1:])
}
