package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NaiveTimeLayout is how a NaiveTime is written: a UTC date and time with
// microseconds and no time zone, the format tasker-core uses for readiness,
// DLQ and retry timestamps (its clients parse these fields without a time
// zone and refuse one that has it).
const NaiveTimeLayout = "2006-01-02T15:04:05.999999"

// NaiveTime is a UTC instant written without a time zone (NaiveTimeLayout).
// Reading accepts that form (taken as UTC) and RFC 3339 with a zone.
type NaiveTime struct{ time.Time }

// Naive returns t as a NaiveTime (in UTC).
func Naive(t time.Time) NaiveTime { return NaiveTime{t.UTC()} }

// NaivePtr returns nil for nil, else a NaiveTime of *t.
func NaivePtr(t *time.Time) *NaiveTime {
	if t == nil {
		return nil
	}
	n := Naive(*t)
	return &n
}

// TimePtr returns the instant, or nil for nil.
func (n *NaiveTime) TimePtr() *time.Time {
	if n == nil {
		return nil
	}
	t := n.Time
	return &t
}

// MarshalText writes the UTC time without a zone.
func (n NaiveTime) MarshalText() ([]byte, error) {
	return []byte(n.UTC().Format(NaiveTimeLayout)), nil
}

// MarshalJSON writes the UTC time without a zone, as a JSON string.
func (n NaiveTime) MarshalJSON() ([]byte, error) {
	b, _ := n.MarshalText()
	return json.Marshal(string(b))
}

// UnmarshalText reads a time with or without a zone (without: UTC).
func (n *NaiveTime) UnmarshalText(b []byte) error {
	t, err := ParseLenientTime(string(b))
	if err != nil {
		return err
	}
	n.Time = t
	return nil
}

// UnmarshalJSON reads a JSON string with a time, with or without a zone.
func (n *NaiveTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a timestamp must be a string")
	}
	return n.UnmarshalText([]byte(s))
}

// naiveLayouts are the zone-less forms ParseLenientTime accepts; the
// fraction is optional in each.
var naiveLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// ParseLenientTime reads an RFC 3339 timestamp, or one without a time zone
// ("2026-12-07T00:48:14.918472", as tasker-core's clients send
// requested_at), which is taken as UTC.
func ParseLenientTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if !strings.ContainsAny(s, "Zz+") && strings.Count(s, "-") == 2 {
		for _, l := range naiveLayouts {
			if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (RFC 3339, or YYYY-MM-DDTHH:MM:SS[.ffffff] in UTC)", s)
}
