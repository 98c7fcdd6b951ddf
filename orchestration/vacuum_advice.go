package orchestration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tasker-go/tasker/shared/store"
)

// A table is behind on vacuum when its dead rows exceed both
// VacuumLagRows and VacuumLagRatio of its live rows: below that, the bloat
// costs little; above it, index scans on the engine's hot tables (steps,
// queues) read mostly dead entries and every statement slows down.
const (
	VacuumLagRows  = 10_000
	VacuumLagRatio = 0.2
)

// VacuumAdvice judges what PostgreSQL says about vacuum on the engine's
// tables: ok is false when dead rows are not being reclaimed (autovacuum or
// its statistics off, autovacuum disabled on one of our tables) or a table
// is behind; the message names the problem, the tables (at most three, most
// dead rows first) and what to do.
func VacuumAdvice(st store.VacuumStatus, now time.Time) (ok bool, message string) {
	var disabled, behind []string
	for _, t := range st.Tables {
		if !t.AutovacuumEnabled {
			disabled = append(disabled, t.Table)
		}
		if t.DeadRows > VacuumLagRows && float64(t.DeadRows) > VacuumLagRatio*float64(t.LiveRows) {
			behind = append(behind, describeLag(t, now))
		}
	}
	var problems []string
	switch {
	case !st.TrackCounts:
		problems = append(problems, "track_counts is off: PostgreSQL keeps no table statistics, so autovacuum cannot run")
	case !st.Autovacuum:
		problems = append(problems, "autovacuum is off: dead rows in the engine's tables are reclaimed only by a manual VACUUM")
	}
	if len(disabled) > 0 {
		problems = append(problems, "autovacuum is disabled on "+strings.Join(firstN(disabled, 3), ", "))
	}
	if len(behind) > 0 {
		problems = append(problems, "vacuum is behind on "+strings.Join(firstN(behind, 3), "; "))
	}
	if len(problems) == 0 {
		return true, fmt.Sprintf("autovacuum is on and no table of the engine has more than %d dead rows and %.0f%% of its live rows",
			VacuumLagRows, VacuumLagRatio*100)
	}
	return false, strings.Join(problems, "; ") +
		" (throughput falls as dead rows pile up: turn autovacuum on, or run VACUUM ANALYZE on these tables regularly)"
}

func describeLag(t store.TableVacuum, now time.Time) string {
	last := "never vacuumed"
	if t.LastVacuum != nil {
		last = "last vacuumed " + now.Sub(*t.LastVacuum).Round(time.Second).String() + " ago"
	}
	return fmt.Sprintf("%s (%d dead rows, %d live, %s)", t.Table, t.DeadRows, t.LiveRows, last)
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("%d more", len(s)-n))
	}
	return s
}

// warnAboutVacuum logs a warning at start when the engine's tables are not
// being vacuumed (a statistics read failure is logged and ignored: start-up
// does not depend on it).
func (c *Core) warnAboutVacuum(ctx context.Context) {
	st, err := c.store.VacuumStatus(ctx)
	if err != nil {
		c.log.Warn("could not read the vacuum statistics", "err", err)
		return
	}
	if ok, msg := VacuumAdvice(st, time.Now()); !ok {
		c.log.Warn("dead rows are not being reclaimed", "detail", msg)
	}
}
