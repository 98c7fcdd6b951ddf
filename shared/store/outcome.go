package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// OutcomeUnknown reports whether err leaves it unknown if the write that
// returned it committed: the connection broke or the session was terminated
// (SQLSTATE 57P01 during a shutdown, say) after the statements were sent, so
// the COMMIT may have run. The caller must then reconcile (find out what
// happened and repair it) rather than assume nothing happened. A clean
// rejection (an ERROR raised by a statement: its transaction rolled back)
// and an error raised before anything was sent are not unknown. Any other
// error counts as unknown, Go-side failures included (the store rolls those
// back, so reconciling finds nothing): reconciling is cheap, assuming wrongly
// is not.
func OutcomeUnknown(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// ERROR rolls the transaction back; FATAL and PANIC end the
		// session, possibly after the COMMIT ran.
		sev := pe.SeverityUnlocalized
		if sev == "" {
			sev = pe.Severity
		}
		return sev != "ERROR"
	}
	return !pgconn.SafeToRetry(err)
}
