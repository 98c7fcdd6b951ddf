package template

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Limits that keep hostile YAML from exhausting memory, time or stack. A
// plain document is bounded by its size alone: the 2,000-step template with
// 100 dependencies per step (about 2 MB) is well inside it. Aliases are counted
// by what they expand to, because expanding them copies the anchored value
// each time ("billion laughs": a few hundred bytes that expand to a billion
// nodes).
const (
	maxNestingDepth   = 64
	maxAliasNodes     = 1_000_000
	maxTemplateFileSz = 4 << 20 // the largest tasker-core fixture is 9 KB
)

// aliasCountCap is where alias counting saturates: far above
// maxAliasNodes, and far below overflow however the aliases nest.
const aliasCountCap = 1 << 60

// source remembers where a template came from: its file and the line of every
// field path in the YAML document.
type source struct {
	file  string
	line0 int               // line of the document's first node
	lines map[string]int    // field path -> line
	texts map[string]string // field path -> original text of a non-string scalar
}

// line returns the line of path or of its nearest ancestor that has one.
func (s *source) line(path string) int {
	for {
		if l, ok := s.lines[path]; ok {
			return l
		}
		if path == "" {
			return s.line0
		}
		path = parentPath(path)
	}
}

// parentPath strips the last segment: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// field joins a field path and a key.
func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index joins a field path and a list index.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// nodeLine is the 1-based line of n, or 0.
func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

// scanner walks a document's syntax tree before it is decoded: it records
// field lines and scalar texts, refuses documents nested too deeply, and
// counts the nodes that aliases expand to without expanding them.
type scanner struct {
	src     *source
	anchors map[string]int // anchor name -> nodes its value expands to
	// aliasNodes is the number of nodes every alias of the document
	// expands to, saturating at aliasCountCap; aliasLine is the line of
	// the alias that took it past maxAliasNodes.
	aliasNodes int
	aliasLine  int
	problem    string // first limit hit that stops the walk
	badLine    int
}

func newScanner(src *source) *scanner {
	return &scanner{src: src, anchors: map[string]int{}}
}

// scan walks the document and returns the problem that makes it
// unacceptable ("" when none) and its line. The walk touches each node of
// the syntax tree once, so a document whose aliases expand to billions of
// nodes is refused as fast as a plain one of its size is read.
func (s *scanner) scan(body ast.Node) (string, int) {
	s.walk(body, "", 0)
	switch {
	case s.problem != "":
		return s.problem, s.badLine
	case s.aliasNodes >= aliasCountCap:
		return printer.Sprintf("YAML aliases expand to more than %d nodes, limit %d", aliasCountCap, maxAliasNodes), s.aliasLine
	case s.aliasNodes > maxAliasNodes:
		return printer.Sprintf("YAML aliases expand to %d nodes, limit %d", s.aliasNodes, maxAliasNodes), s.aliasLine
	}
	return "", 0
}

// walk visits n at path and returns the number of nodes it expands to.
func (s *scanner) walk(n ast.Node, path string, depth int) int {
	if n == nil || s.problem != "" {
		return 0
	}
	if depth > maxNestingDepth {
		s.fail(n, printer.Sprintf("document is nested more than %d levels deep", maxNestingDepth))
		return 0
	}
	size := 1
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			size = addCapped(size, s.walkPair(mv, path, depth))
		}
	case *ast.MappingValueNode:
		size = addCapped(size, s.walkPair(n, path, depth))
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := index(path, i)
			if _, seen := s.src.lines[p]; !seen {
				s.src.lines[p] = nodeLine(v)
			}
			size = addCapped(size, s.walk(v, p, depth+1))
		}
	case *ast.AnchorNode:
		size = s.walk(n.Value, path, depth+1)
		if n.Name != nil && n.Name.GetToken() != nil {
			s.anchors[n.Name.GetToken().Value] = size
		}
	case *ast.AliasNode:
		// An alias of an unknown anchor, or of the anchor it sits in,
		// decodes to null: one node.
		if n.Value != nil && n.Value.GetToken() != nil {
			size = max(s.anchors[n.Value.GetToken().Value], 1)
		}
		s.aliasNodes = addCapped(s.aliasNodes, size)
		if s.aliasNodes > maxAliasNodes && s.aliasLine == 0 {
			s.aliasLine = nodeLine(n)
		}
	case *ast.TagNode:
		size = s.walk(n.Value, path, depth+1)
	case *ast.StringNode, *ast.LiteralNode, *ast.NullNode:
	default:
		if tk := n.GetToken(); tk != nil {
			s.src.texts[path] = tk.Value
		}
	}
	return size
}

// addCapped adds two node counts, saturating at aliasCountCap.
func addCapped(a, b int) int {
	if a >= aliasCountCap-b {
		return aliasCountCap
	}
	return a + b
}

func (s *scanner) walkPair(mv *ast.MappingValueNode, path string, depth int) int {
	if mv == nil {
		return 0
	}
	if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
		// "<<: *anchor" merges keys into this mapping; they have no
		// lines of their own and fall back to the mapping's line.
		return s.walk(mv.Value, path, depth+1)
	}
	p := field(path, keyText(mv.Key))
	if _, seen := s.src.lines[p]; !seen {
		s.src.lines[p] = nodeLine(mv.Key)
	}
	return addCapped(1, s.walk(mv.Value, p, depth+1))
}

func (s *scanner) fail(n ast.Node, msg string) {
	if s.problem == "" {
		s.problem, s.badLine = msg, nodeLine(n)
	}
}

// keyText is the text of a mapping key as the decoder will see it.
func keyText(k ast.MapKeyNode) string {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok && mk.Value != nil {
		n = mk.Value
	}
	switch n := n.(type) {
	case nil:
		return ""
	case *ast.StringNode:
		return n.Value
	case *ast.TagNode:
		if n.Value != nil {
			if s, ok := n.Value.(*ast.StringNode); ok {
				return s.Value
			}
		}
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// deepFlowLine returns the line where flow collections ([...] and {...})
// nest deeper than limit, or 0. It runs before the YAML parser, whose cost
// grows with the square of the nesting depth. The scan skips comments and
// double-quoted strings; brackets anywhere else count, which can only make
// it stricter than the parser, and only for text no template holds (dozens
// of unclosed brackets).
func deepFlowLine(data []byte, limit int) int {
	line, depth := 1, 0
	inQuote, inComment := false, false
	prev := byte('\n')
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			line++
			inComment = false
		case inComment:
		case inQuote:
			if c == '\\' {
				i++ // skip the escaped character
				if i < len(data) && data[i] == '\n' {
					line++
				}
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			inComment = true
		case c == '[' || c == '{':
			depth++
			if depth > limit {
				return line
			}
		case (c == ']' || c == '}') && depth > 0:
			depth--
		}
		prev = c
	}
	return 0
}
