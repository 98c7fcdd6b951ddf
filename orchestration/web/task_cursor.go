package web

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/store"
)

// A task list cursor is opaque to clients: base64url of
// "<direction>.<created_at in µs since the epoch>.<task uuid>", where the
// direction is "o" (the page of older tasks) or "n" (newer tasks).

func encodeTaskCursor(t store.Task, older bool) string {
	dir := "n"
	if older {
		dir = "o"
	}
	raw := dir + "." + strconv.FormatInt(t.CreatedAt.UnixMicro(), 10) + "." + t.UUID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeTaskCursor(v string) (store.TaskCursor, bool, error) {
	bad := func() (store.TaskCursor, bool, error) {
		return store.TaskCursor{}, false, invalidParam("cursor", "%q is not a cursor from an earlier answer's next_cursor or previous_cursor", v)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return bad()
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || (parts[0] != "o" && parts[0] != "n") {
		return bad()
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return bad()
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return bad()
	}
	return store.TaskCursor{CreatedAt: time.UnixMicro(us), UUID: id}, parts[0] == "o", nil
}

// parseTimeParam reads an optional RFC 3339 query parameter.
func parseTimeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidParam(name, "%q is not an RFC 3339 time (like 2026-01-02T15:04:05Z)", v)
	}
	return t, nil
}
