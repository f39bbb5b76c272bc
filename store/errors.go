package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters return them, or errors that match them with errors.Is.
var (
	// ErrNotFound: the record, or single-use key, does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key is already taken, or a single-use key is already live.
	ErrConflict = errors.New("store: unique key conflict")
	// ErrImmutable: a write tried to change a field that is fixed at creation.
	ErrImmutable = errors.New("store: immutable field changed")
	// ErrInvalid: the arguments or the record break a rule of this contract (a page limit
	// out of range, a missing key field, a credential whose owner is not in its account).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrAborted: an Update kept conflicting with concurrent transactions and the adapter
	// gave up retrying it. Nothing was written.
	ErrAborted = errors.New("store: transaction aborted after retries")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
)

// ConflictError says which unique key a write collided with. It matches ErrConflict.
// The conflicting value is not included: it may be a secret's hash or an email.
type ConflictError struct {
	Kind  Kind   // the record kind written
	Index string // the unique key: "email", "name", "secret_hash", "fingerprint", "entity_id", "id"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: %s with this %s already exists", e.Kind, e.Index)
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// InvalidError says which argument or field broke the contract, and how. It matches
// ErrInvalid.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return "store: invalid " + e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ImmutableError names the fixed field a write tried to change. It matches ErrImmutable.
type ImmutableError struct {
	Kind  Kind
	Field string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("store: %s %s cannot be changed", e.Kind, e.Field)
}

// Is reports whether target is ErrImmutable.
func (e *ImmutableError) Is(target error) bool { return target == ErrImmutable }
