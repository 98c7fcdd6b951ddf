package config

import (
	"reflect"
	"slices"
	"strings"
)

// KeyInfo describes one key of the configuration (`tasker config explain`).
type KeyInfo struct {
	// Key is the dotted key, e.g. "database.pool.max_connections".
	Key string
	// Type says what the value must be, as error messages say it.
	Type string
	// Value is the key's value in the configuration explained (secrets
	// redacted when the configuration is).
	Value any
	// TaskerCore lists the tasker-core keys that map to this key.
	TaskerCore []string
}

// Explain describes key in cfg. ok is false when the key does not exist
// (a table, such as "database.pool", is not a key).
func (c *Config) Explain(key string) (KeyInfo, bool) {
	f := schema()
	for part := range strings.SplitSeq(key, ".") {
		if f == nil {
			return KeyInfo{}, false
		}
		f = f.child(part)
	}
	if f == nil || f.kind == kindTable {
		return KeyInfo{}, false
	}
	values := toMap(encodeTable(schema(), reflect.ValueOf(c).Elem()))
	info := KeyInfo{Key: key, Type: f.kind.String(), Value: lookupPath(values, key)}
	for core, ours := range TaskerCoreKeys() {
		if ours == key {
			info.TaskerCore = append(info.TaskerCore, core)
		}
	}
	if strings.HasPrefix(key, "orchestration.staleness.action") {
		info.TaskerCore = append(info.TaskerCore, "orchestration.dlq.staleness_detection.actions.auto_move_to_dlq",
			"orchestration.dlq.staleness_detection.actions.auto_transition_to_error")
	}
	slices.Sort(info.TaskerCore)
	return info, true
}

// ExplainTaskerCore says what becomes of a tasker-core key here: the key
// it maps to, or why it has no equivalent. ok is false for a key
// tasker-core does not have (as far as this version knows).
func ExplainTaskerCore(key string) (ours, why string, ok bool) {
	if m, found := coreMappings[key]; found {
		return m.ours, "", true
	}
	switch key {
	case "orchestration.web.auth.enabled", "worker.web.auth.enabled":
		return "", "authentication is not available in this version: only false is accepted (put the APIs behind a gateway)", true
	case "common.pgmq_database.url":
		return "", "queues live in the tasks database: only an empty value is accepted", true
	case "orchestration.dlq.staleness_detection.actions.auto_move_to_dlq",
		"orchestration.dlq.staleness_detection.actions.auto_transition_to_error":
		return "orchestration.staleness.action", "both true: dlq; only auto_transition_to_error: error; both false: none; DLQ without error is refused", true
	}
	if r, found := ignoredReason(key); found {
		return "", "ignored: " + r, true
	}
	return "", "", false
}
