package identity

import "errors"

// ErrInvalid is matched (errors.Is) by every *ValidationError of iamkit's domain packages.
var ErrInvalid = errors.New("invalid input")

// ValidationError names an input field and what is wrong with it (including the limit it
// broke). It never repeats the value: a value may be secret.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }
