package native

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/worker"
)

// codeMissingDependency is the error code of an ancestor result the
// arithmetic handlers cannot read (worker.Dependency gives the typed
// handlers theirs).
const codeMissingDependency = worker.ErrorCodeMissingDependency

// invalid is a permanent ValidationError: the task's input is wrong and
// running again cannot help.
func invalid(format string, args ...any) error {
	return &worker.Error{Err: fmt.Errorf(format, args...), Type: worker.ErrorTypeValidation, Permanent: true}
}

// brokenDependency is a permanent failure for an ancestor result that is
// missing or malformed: the workflow is wired wrong.
func brokenDependency(err error) error {
	return &worker.Error{Err: err, Type: worker.ErrorTypePermanent, Code: codeMissingDependency, Permanent: true}
}

// now is the clock of the few timestamps handlers report.
func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// stepIdentity is what the identifier helpers read: a *worker.Step of any
// input type, or a *worker.StepContext.
type stepIdentity interface{ StepUUID() uuid.UUID }

// digest hashes the step's identity with a label; identifiers derived from
// it are stable across retries of the same step.
func digest(step stepIdentity, label string) [sha256.Size]byte {
	id := step.StepUUID()
	return sha256.Sum256(append(id[:], label...))
}

// derivedID is prefix followed by n upper-case hex digits derived from the
// step (n ≤ 64).
func derivedID(step stepIdentity, prefix string, n int) string {
	d := digest(step, prefix)
	return prefix + strings.ToUpper(hex.EncodeToString(d[:]))[:n]
}

// derivedDigits is n decimal digits derived from the step (n ≤ 19).
func derivedDigits(step stepIdentity, label string, n int) string {
	d := digest(step, label)
	v := binary.BigEndian.Uint64(d[:8]) % uint64(math.Pow10(n))
	return fmt.Sprintf("%0*d", n, v)
}

// Money is handled in integer cents.

// cents converts an amount in currency units to cents, rounding half away
// from zero.
func cents(amount float64) int64 { return int64(math.Round(amount * 100)) }

// units converts cents back to currency units for a JSON result.
func units(c int64) float64 { return float64(c) / 100 }

// percentOf returns basisPoints/10000 of c, rounded half away from zero
// (2.9 % is 290 basis points).
func percentOf(c, basisPoints int64) int64 {
	p := c * basisPoints
	if p < 0 {
		return -((-p + 5000) / 10000)
	}
	return (p + 5000) / 10000
}
