package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The error model shared by every iamkit package.
//
// Every error a package of iamkit returns matches exactly one of the sentinels below with
// errors.Is, and carries a stable, machine-readable code (CodeOf): a snake_case string such
// as "seat_limit" or "already_exists" that never changes once published. Errors about an
// input also name the field at fault and, where one was broken, the limit. Messages are for
// people and may change; no caller should compare them.
//
// Packages build their errors with NewError and Invalid; the root package iamkit maps each
// sentinel to an HTTP status.

// kindError is the type of the sentinels: an error with a code of its own, so that a
// sentinel returned bare still has one.
type kindError struct{ code, msg string }

func (k *kindError) Error() string { return k.msg }

// ErrorCode returns the sentinel's own code.
func (k *kindError) ErrorCode() string { return k.code }

// The sentinels: the kinds of error.
var (
	// ErrInvalid: an argument or field breaks a rule (a format, a limit, a field that cannot
	// change). The *Error names the field and, where there is one, the limit.
	ErrInvalid error = &kindError{"invalid", "invalid argument"}
	// ErrNotFound: the record does not exist, or is not visible to the caller.
	ErrNotFound error = &kindError{"not_found", "not found"}
	// ErrConflict: the change conflicts with what is stored: a unique key is taken (the
	// *Error's Field names it), or the record is not in a state that allows the change (the
	// last administrator, an invitation that expired).
	ErrConflict error = &kindError{"conflict", "conflict"}
	// ErrDenied: the principal is authenticated but may not do this.
	ErrDenied error = &kindError{"permission_denied", "permission denied"}
	// ErrUnauthenticated: a credential, session or sign-in was refused.
	ErrUnauthenticated error = &kindError{"unauthenticated", "unauthenticated"}
	// ErrFeatureUnavailable: the account's plan does not include the feature.
	ErrFeatureUnavailable error = &kindError{"feature_unavailable", "feature not available on this plan"}
	// ErrLimitExceeded: a quota would be exceeded: seats, a count per account, a rate.
	ErrLimitExceeded error = &kindError{"limit_exceeded", "limit exceeded"}
	// ErrUnavailable: a dependency (the store, an identity provider) did not answer, or a
	// transaction kept conflicting with concurrent ones; nothing was changed by this call, or
	// its outcome is unknown where the *Error says so. Retrying may succeed.
	ErrUnavailable error = &kindError{"unavailable", "temporarily unavailable"}
	// ErrClosed: the store, or the service, has been closed.
	ErrClosed error = &kindError{"closed", "closed"}
)

// Codes used by the store itself. Domain packages define their own.
const (
	CodeAlreadyExists = "already_exists" // ErrConflict: a unique key is taken; Field names it
	CodeImmutable     = "immutable"      // ErrInvalid: a field fixed at creation was changed
	CodeRequired      = "required"       // ErrInvalid: a required field is empty
	CodeTooLong       = "too_long"       // ErrInvalid: over a length limit (Limit, in bytes)
	CodeOutOfRange    = "out_of_range"   // ErrInvalid: a number outside its range
	CodeInvalidValue  = "invalid_value"  // ErrInvalid: a value outside its domain or format
	CodeAborted       = "aborted"        // ErrUnavailable: retries exhausted under contention
	CodePurgePending  = "purge_pending"  // ErrConflict: a removed owner's credentials are still being purged
	CodeInternal      = "internal"       // what CodeOf says of an error outside this model
	CodeInUse         = "in_use"         // ErrConflict: other records refer to what a deletion would remove
)

// Error is an iamkit error: its kind (one of the sentinels), a stable code, the field and
// limit for input errors, a message, and the underlying cause if any.
type Error struct {
	// Kind is the sentinel the error matches.
	Kind error
	// Code is the stable machine-readable code, e.g. "seat_limit".
	Code string
	// Field is the input field at fault (ErrInvalid, and ErrConflict on a unique key), in the
	// snake_case of the API, e.g. "description" or "roles[2]". An ErrDenied error names the
	// permission denied in it (e.g. "bot_users:write"), and an ErrFeatureUnavailable error
	// the plan feature missing (e.g. "bot_users").
	Field string
	// Limit is the limit that was broken (bytes, count), or 0 when none applies.
	Limit int
	// RetryAfter is, for an ErrLimitExceeded error about a rate (a Limiter refused), how long
	// until a retry may be allowed; 0 otherwise.
	RetryAfter time.Duration
	// Msg says what is wrong, for a person. It never holds a secret or a raw input value.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// NewError returns an error of the given kind and code.
func NewError(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Invalid returns an ErrInvalid error about field, with the limit it broke (0 for none).
func Invalid(field, code string, limit int, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Code: code, Field: field, Limit: limit, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the given kind and code whose cause is err.
func Wrap(kind error, code string, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Error returns "field: message: cause", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	msg := e.Msg
	if msg == "" && e.Kind != nil {
		msg = e.Kind.Error()
	}
	b.WriteString(msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns Code.
func (e *Error) ErrorCode() string { return e.Code }

// coder is implemented by every error that carries a code.
type coder interface{ ErrorCode() string }

// CodeOf returns the code of err: that of the first error in its chain that carries one
// (an *Error, a sentinel, or any error with an ErrorCode() string method), CodeInternal
// for an error without one, and "" for nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var c coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return CodeInternal
}

// KindOf returns the sentinel err matches, or nil when it matches none (an error from
// outside iamkit, such as a context error).
func KindOf(err error) error {
	for _, k := range [...]error{
		ErrInvalid, ErrNotFound, ErrConflict, ErrDenied, ErrUnauthenticated,
		ErrFeatureUnavailable, ErrLimitExceeded, ErrUnavailable, ErrClosed,
	} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// conflict returns the error of a write that collides with a unique key.
func conflict(kind Kind, index string) *Error {
	return &Error{
		Kind: ErrConflict, Code: CodeAlreadyExists, Field: index,
		Msg: fmt.Sprintf("a %s with this %s already exists", strings.ReplaceAll(string(kind), "_", " "), index),
	}
}

// Conflict returns the error an adapter returns when a write collides with a unique index of
// a table: ErrConflict, code CodeAlreadyExists, Field the index name. The value is never
// included: it may be an email or a secret's hash.
func Conflict(t *Table, ix *Index) *Error { return conflict(t.Kind, ix.Name) }

// immutable returns the error of a write that changes a field fixed at creation.
func immutable(kind Kind, field string) *Error {
	return Invalid(field, CodeImmutable, 0, "a %s's %s cannot be changed", strings.ReplaceAll(string(kind), "_", " "), field)
}
