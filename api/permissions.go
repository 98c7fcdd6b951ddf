package api

import "strings"

// Permissions are "resource:action" strings. A credential (a JWT's
// permissions claim, an API key's configured list) grants a set of them;
// every protected route requires one. "resource:*" grants every action of a
// resource; there is no global wildcard. The vocabulary is tasker-core's,
// plus system:read.
const (
	PermTasksCreate      = "tasks:create"
	PermTasksRead        = "tasks:read"
	PermTasksList        = "tasks:list"
	PermTasksCancel      = "tasks:cancel"
	PermTasksContextRead = "tasks:context_read"

	PermStepsRead    = "steps:read"
	PermStepsResolve = "steps:resolve"

	PermDLQRead   = "dlq:read"
	PermDLQUpdate = "dlq:update"
	PermDLQStats  = "dlq:stats"

	PermTemplatesRead     = "templates:read"
	PermTemplatesValidate = "templates:validate"

	PermSystemRead          = "system:read"
	PermSystemConfigRead    = "system:config_read"
	PermSystemHandlersRead  = "system:handlers_read"
	PermSystemAnalyticsRead = "system:analytics_read"

	PermWorkerConfigRead    = "worker:config_read"
	PermWorkerTemplatesRead = "worker:templates_read"
)

// PermissionInfo describes one permission of the vocabulary.
type PermissionInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Permissions is the vocabulary, in a stable order.
var Permissions = []PermissionInfo{
	{PermTasksCreate, "create tasks"},
	{PermTasksRead, "read a task, its execution context and its event stream"},
	{PermTasksList, "list tasks"},
	{PermTasksCancel, "cancel tasks"},
	{PermTasksContextRead, "read a task's context (tasker-core; no route here needs it yet)"},
	{PermStepsRead, "read workflow steps and their audit history"},
	{PermStepsResolve, "reset, resolve or complete a step by hand"},
	{PermDLQRead, "read dead letter queue entries and staleness"},
	{PermDLQUpdate, "update a DLQ investigation"},
	{PermDLQStats, "read DLQ statistics"},
	{PermTemplatesRead, "read task templates"},
	{PermTemplatesValidate, "validate templates (tasker-core's worker; no route here needs it yet)"},
	{PermSystemRead, "detailed health; health, metrics and API docs when they are not public"},
	{PermSystemConfigRead, "read the configuration (GET /config)"},
	{PermSystemHandlersRead, "read the handler registry (tasker-core; no route here needs it yet)"},
	{PermSystemAnalyticsRead, "read analytics (GET /v1/analytics/*, the dashboard's overview)"},
	{PermWorkerConfigRead, "read a worker's configuration (tasker-core; no route here needs it yet)"},
	{PermWorkerTemplatesRead, "read the templates a worker registered"},
}

// PermissionResources lists the resources of the vocabulary; "resource:*"
// is a valid permission for each.
var PermissionResources = []string{"tasks", "steps", "dlq", "templates", "system", "worker"}

// IsKnownPermission reports whether p is in the vocabulary or is a
// resource wildcard ("tasks:*") of a known resource.
func IsKnownPermission(p string) bool {
	if res, ok := strings.CutSuffix(p, ":*"); ok {
		for _, r := range PermissionResources {
			if r == res {
				return true
			}
		}
		return false
	}
	for _, k := range Permissions {
		if k.Name == p {
			return true
		}
	}
	return false
}

// PermissionGrants reports whether a granted permission covers a required
// one: the same string, or the required permission's resource wildcard.
func PermissionGrants(granted, required string) bool {
	if granted == required {
		return true
	}
	res, ok := strings.CutSuffix(granted, ":*")
	return ok && res != "" && strings.HasPrefix(required, res+":")
}
