package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// handlerFacing are the packages handler authors import: their exported
// API must not mention the store's types (a handler never sees a row).
var handlerFacing = []string{"worker", "worker/workertest"}

// surfaceExceptions are exported declarations of handler-facing packages
// allowed to name a store type, each with its reason.
var surfaceExceptions = map[string]string{
	// The low-level assembly of a worker core from parts a program built
	// itself (worker.Open builds the store for everyone else).
	"worker.Options.Store": "assembling a worker from its parts",
}

// TestHandlerAPIHidesTheStore fails when an exported function, method,
// type, field, variable or constant of a handler-facing package names a
// type of shared/store.
func TestHandlerAPIHidesTheStore(t *testing.T) {
	for _, pkg := range handlerFacing {
		found := exposed(t, filepath.Join("../..", pkg), module+"shared/store")
		for _, f := range found {
			if _, ok := surfaceExceptions[f]; ok {
				continue
			}
			t.Errorf("%s exposes a shared/store type in the exported API of a handler-facing package", f)
		}
	}
	// The exceptions still exist (a stale one would hide a new exposure
	// under its name).
	seen := map[string]bool{}
	for _, pkg := range handlerFacing {
		for _, f := range exposed(t, filepath.Join("../..", pkg), module+"shared/store") {
			seen[f] = true
		}
	}
	for e := range surfaceExceptions {
		require.True(t, seen[e], "surface exception %s no longer applies: remove it", e)
	}
}

// TestExposedFindsStoreTypes checks the detector on a package written for
// it.
func TestExposedFindsStoreTypes(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import (
	"context"

	st "github.com/tasker-go/tasker/shared/store"
)

type Public struct {
	Row    st.Task
	hidden st.Step
	Ok     int
}

type hiddenType struct{ Row st.Task }

type Iface interface {
	Get(context.Context) (*st.Step, error)
	fine()
}

type Alias = st.Task

func Load(id string) []st.Task { return nil }

func (Public) Method(m map[string]st.Step) {}

func (hiddenType) Method(st.Step) {}

func internal(st.Step) {}

var Global st.Store

var local st.Store

func Clean(s string) string { return s }
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nimport st \"github.com/tasker-go/tasker/shared/store\"\n\nfunc Exported(st.Task) {}\n"), 0o600))
	got := exposed(t, dir, module+"shared/store")
	require.Equal(t, []string{"p.Alias", "p.Global", "p.Iface.Get", "p.Load", "p.Public.Method", "p.Public.Row"}, got)
}

// exposed lists the exported declarations of the package in dir (test
// files excluded) whose types name the package importPath, as
// pkg.Name[.Member].
func exposed(t *testing.T, dir, importPath string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		local := importName(f, importPath)
		if local == "" {
			continue
		}
		pkg := f.Name.Name
		names := func(n ast.Node) bool { return mentions(n, local) }
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				qual := pkg + "." + d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					recv := receiverName(d.Recv.List[0].Type)
					if !ast.IsExported(recv) {
						continue
					}
					qual = pkg + "." + recv + "." + d.Name.Name
				}
				if names(d.Type) {
					out = append(out, qual)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						out = append(out, exposedInType(pkg+"."+s.Name.Name, s.Type, names)...)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() && (s.Type != nil && names(s.Type) || valuesMention(s.Values, names)) {
								out = append(out, pkg+"."+n.Name)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// exposedInType lists what of an exported type's definition names the
// package: its exported fields and interface methods, or the whole type.
func exposedInType(qual string, typ ast.Expr, names func(ast.Node) bool) []string {
	var out []string
	switch tt := typ.(type) {
	case *ast.StructType:
		for _, f := range tt.Fields.List {
			if !names(f.Type) {
				continue
			}
			if len(f.Names) == 0 { // embedded: its exported members are promoted
				out = append(out, qual+"."+receiverName(f.Type))
			}
			for _, n := range f.Names {
				if n.IsExported() {
					out = append(out, qual+"."+n.Name)
				}
			}
		}
	case *ast.InterfaceType:
		for _, m := range tt.Methods.List {
			if !names(m.Type) {
				continue
			}
			if len(m.Names) == 0 {
				out = append(out, qual)
			}
			for _, n := range m.Names {
				if n.IsExported() {
					out = append(out, qual+"."+n.Name)
				}
			}
		}
	default:
		if names(typ) {
			out = append(out, qual)
		}
	}
	return out
}

func valuesMention(values []ast.Expr, names func(ast.Node) bool) bool {
	for _, v := range values {
		// A composite literal or conversion of the package's type gives
		// the variable that type.
		switch v := v.(type) {
		case *ast.CompositeLit:
			if v.Type != nil && names(v.Type) {
				return true
			}
		case *ast.UnaryExpr:
			if cl, ok := v.X.(*ast.CompositeLit); ok && cl.Type != nil && names(cl.Type) {
				return true
			}
		}
	}
	return false
}

// importName is the name file f uses for importPath ("" if not imported).
func importName(f *ast.File, importPath string) string {
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p != importPath {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return importPath[strings.LastIndex(importPath, "/")+1:]
	}
	return ""
}

// mentions reports whether n contains a selector local.X.
func mentions(n ast.Node, local string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local {
				found = true
			}
		}
		return !found
	})
	return found
}

// receiverName is the type name of a receiver or embedded field
// expression (T, *T, T[P], pkg.T).
func receiverName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiverName(e.X)
	case *ast.IndexExpr:
		return receiverName(e.X)
	case *ast.IndexListExpr:
		return receiverName(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.Ident:
		return e.Name
	}
	return ""
}
