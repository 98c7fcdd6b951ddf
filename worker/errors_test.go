package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/stepresult"
)

// TestErrorTypesAreTheStoredOnes: the exported error types are the
// strings orchestration and tasker-core's clients read.
func TestErrorTypesAreTheStoredOnes(t *testing.T) {
	require.Equal(t, stepresult.ErrorTypeUnexpected, ErrorTypeUnexpected)
	require.Equal(t, stepresult.ErrorTypePermanent, ErrorTypePermanent)
	require.Equal(t, stepresult.ErrorTypeRetryable, ErrorTypeRetryable)
	require.Equal(t, stepresult.ErrorTypeValidation, ErrorTypeValidation)
	require.Equal(t, stepresult.ErrorTypeTimeout, ErrorTypeTimeout)
}

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	for name, tc := range map[string]struct {
		err  error
		want Error
	}{
		"plain error":     {base, Error{Type: ErrorTypeUnexpected}},
		"permanent":       {Permanent(base), Error{Type: ErrorTypePermanent, Permanent: true}},
		"retry after":     {RetryAfter(base, time.Minute), Error{Type: ErrorTypeRetryable, RetryAfter: time.Minute}},
		"retry after <=0": {RetryAfter(base, -time.Second), Error{Type: ErrorTypeUnexpected}},
		"typed":           {WithErrorType(base, "PaymentDeclined"), Error{Type: "PaymentDeclined"}},
		"coded":           {WithErrorCode(base, "E1"), Error{Type: ErrorTypeUnexpected, Code: "E1"}},
		"metadata":        {WithMetadata(base, map[string]any{"k": 1}), Error{Type: ErrorTypeUnexpected, Metadata: map[string]any{"k": 1}}},
		// Wrappers compose in any order; the outer one wins a conflict.
		"type then permanent": {Permanent(WithErrorType(base, "X")), Error{Type: "X", Permanent: true}},
		"permanent then type": {WithErrorType(Permanent(base), "X"), Error{Type: "X", Permanent: true}},
		"code, permanent, metadata": {WithMetadata(Permanent(WithErrorCode(base, "C")), map[string]any{"a": 1}),
			Error{Type: ErrorTypePermanent, Code: "C", Permanent: true, Metadata: map[string]any{"a": 1}}},
		"retry after a permanent": {RetryAfter(Permanent(base), time.Second), Error{Type: ErrorTypeRetryable, RetryAfter: time.Second}},
		"permanent after a retry": {Permanent(RetryAfter(base, time.Second)), Error{Type: ErrorTypePermanent, Permanent: true}},
		"metadata merges": {WithMetadata(WithMetadata(base, map[string]any{"a": 1, "b": 1}), map[string]any{"b": 2}),
			Error{Type: ErrorTypeUnexpected, Metadata: map[string]any{"a": 1, "b": 2}}},
		// Classification survives wrapping by other code.
		"wrapped by fmt": {fmt.Errorf("charging: %w", Permanent(base)), Error{Type: ErrorTypePermanent, Permanent: true}},
		"joined":         {errors.Join(errors.New("first"), WithErrorCode(base, "J")), Error{Type: ErrorTypeUnexpected, Code: "J"}},
		"literal": {&Error{Err: base, Type: "Declined", Code: "D", Permanent: true, RetryAfter: time.Hour},
			Error{Type: "Declined", Code: "D", Permanent: true}},
	} {
		got := Classify(tc.err)
		require.Same(t, tc.err, got.Err, name)
		got.Err = nil
		require.Equal(t, tc.want, *got, name)
	}
	require.Nil(t, Classify(nil))
}

func TestWrappersKeepTheChain(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	err := WithErrorCode(RetryAfter(Permanent(fmt.Errorf("loading: %w", base)), time.Second), "C")
	require.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "/x", pe.Path)
	var we *Error
	require.ErrorAs(t, err, &we)
	require.Equal(t, "C", we.Code)
	require.Equal(t, "loading: open /x: file does not exist", err.Error(), "the wrappers add nothing to the message")

	// The metadata of a wrapped error is copied, not shared.
	md := map[string]any{"a": 1}
	inner := WithMetadata(base, md)
	outer := WithMetadata(inner, map[string]any{"b": 2})
	require.Equal(t, map[string]any{"a": 1}, Classify(inner).Metadata)
	require.Equal(t, map[string]any{"a": 1, "b": 2}, Classify(outer).Metadata)
	require.Equal(t, map[string]any{"a": 1}, md)

	for _, wrap := range []func(error) error{
		Permanent,
		func(err error) error { return RetryAfter(err, time.Second) },
		func(err error) error { return WithErrorType(err, "T") },
		func(err error) error { return WithErrorCode(err, "C") },
		func(err error) error { return WithMetadata(err, map[string]any{"k": 1}) },
	} {
		require.NoError(t, wrap(nil), "a nil error stays nil")
	}
	require.Equal(t, "step failed with X", (&Error{Type: "X"}).Error())
	require.Equal(t, "step failed", (&Error{}).Error())
}

func TestResultOf(t *testing.T) {
	r := ResultOf(map[string]int{"n": 1}, nil)
	require.True(t, r.IsSuccess())
	require.Equal(t, map[string]int{"n": 1}, r.Value())

	r = ResultOf(nil, WithMetadata(WithErrorCode(RetryAfter(errors.New("slow down"), 2*time.Second), "RATE"), map[string]any{"k": "v"}))
	require.False(t, r.IsSuccess())
	require.Equal(t, "slow down", r.Message())
	require.Equal(t, ErrorTypeRetryable, r.ErrorType())
	require.Equal(t, "RATE", r.ErrorCode())
	require.True(t, r.Retryable())
	d, ok := r.RetryAfter()
	require.True(t, ok)
	require.Equal(t, 2*time.Second, d)
	require.Equal(t, map[string]any{"k": "v"}, r.Metadata())

	r = ResultOf("ignored", Permanent(errors.New("no")))
	require.False(t, r.Retryable())
	require.Equal(t, ErrorTypePermanent, r.ErrorType())
	_, ok = r.RetryAfter()
	require.False(t, ok)

	r = ResultOf(nil, &Error{Type: "Declined"})
	require.Equal(t, "step failed with Declined", r.Message())
	require.True(t, r.Retryable(), "an *Error is retryable unless Permanent")
}
