package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"
)

// Small checks shared by the Validate methods. Each adds at most one problem
// under key and reports whether the value passed.

func (ps *Problems) durationAtLeast(key string, d, minimum time.Duration) bool {
	if d < minimum {
		if minimum == 0 {
			ps.add(key, fmt.Sprintf("must not be negative, got %s", formatDuration(d)))
		} else {
			ps.add(key, fmt.Sprintf("must be at least %s, got %s", formatDuration(minimum), formatDuration(d)))
		}
		return false
	}
	return true
}

func (ps *Problems) positiveDuration(key string, d time.Duration) bool {
	if d <= 0 {
		ps.add(key, fmt.Sprintf("must be a positive duration, got %s", formatDuration(d)))
		return false
	}
	return true
}

func (ps *Problems) intBetween(key string, v, minimum, maximum int64) bool {
	if v < minimum || v > maximum {
		ps.add(key, fmt.Sprintf("must be between %d and %d, got %d", minimum, maximum, v))
		return false
	}
	return true
}

func (ps *Problems) intAtLeast(key string, v, minimum int64) bool {
	if v < minimum {
		ps.add(key, fmt.Sprintf("must be at least %d, got %d", minimum, v))
		return false
	}
	return true
}

// bindAddress checks a "host:port" listen address such as ":8080" or
// "127.0.0.1:0".
func (ps *Problems) bindAddress(key, addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add(key, fmt.Sprintf("invalid listen address %q: want host:port such as \":8080\"", addr))
		return false
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		ps.add(key, fmt.Sprintf("invalid port %q in listen address %q: want 0-65535", port, addr))
		return false
	}
	return true
}

// oneOf checks an enumerated string value.
func (ps *Problems) oneOf(key, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	ps.add(key, fmt.Sprintf("unknown value %q: want one of %s", v, quoteList(allowed)))
	return false
}

func quoteList(items []string) string {
	s := ""
	for i, it := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			s += " or "
		default:
			s += ", "
		}
		s += strconv.Quote(it)
	}
	return s
}

// identifierRE matches an unquoted PostgreSQL identifier we are willing to
// interpolate into SQL (schema names end up in search_path and DDL).
var identifierRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// namespaceRE matches a task namespace; namespaces become part of queue,
// table and channel names ("worker_{namespace}_queue").
var namespaceRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxNamespaceLen keeps "worker_{namespace}_queue" within the 47-character
// queue-name limit.
const maxNamespaceLen = 47 - len("worker_") - len("_queue")
