package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iamkit/iamkit/store"
)

// CheckName returns an error matching store.ErrInvalid, naming field, unless name is
// acceptable as the name of an account, a user, a bot user or a custom role. Every name in
// iamkit goes through it. A name:
//   - is at most store.MaxNameLen bytes of valid UTF-8 (invalid bytes are refused, not
//     replaced with U+FFFD, and U+FFFD itself is refused: two different inputs must never
//     become the same name);
//   - holds no control characters (C0, DEL, C1), no format characters (Unicode category
//     Cf: zero-width spaces and joiners, bidi marks, embeddings, overrides and isolates,
//     the BOM, soft hyphens), no line or paragraph separators and no other default-ignorable
//     fillers (such as U+3164 HANGUL FILLER): nothing that hides, reorders or mimics text;
//   - is not whitespace only, and neither starts nor ends with whitespace (refused, not
//     trimmed, so that what is stored is what was asked for).
//
// The empty name is refused when required and accepted otherwise.
func CheckName(field, name string, required bool) error {
	switch {
	case name == "" && required:
		return store.Invalid(field, store.CodeRequired, 0, "required")
	case name == "":
		return nil
	case len(name) > store.MaxNameLen:
		return store.Invalid(field, store.CodeTooLong, store.MaxNameLen, "%d bytes at most, got %d", store.MaxNameLen, len(name))
	case !utf8.ValidString(name):
		return store.Invalid(field, store.CodeInvalidValue, 0, "must be valid UTF-8")
	case strings.TrimFunc(name, unicode.IsSpace) == "":
		return store.Invalid(field, store.CodeInvalidValue, 0, "must not be whitespace only")
	case strings.TrimFunc(name, unicode.IsSpace) != name:
		return store.Invalid(field, store.CodeInvalidValue, 0, "must not begin or end with whitespace")
	}
	if i := strings.IndexFunc(name, hiddenInName); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return store.Invalid(field, store.CodeInvalidValue, 0, "must not contain control, format or invisible characters (U+%04X at byte %d)", r, i)
	}
	return nil
}

// hiddenInName reports whether r is a character CheckName refuses anywhere in a name.
func hiddenInName(r rune) bool {
	return unicode.IsControl(r) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Other_Default_Ignorable_Code_Point) ||
		r == utf8.RuneError
}

// CheckDescription returns an error matching store.ErrInvalid, naming field, unless text is
// acceptable free text of at most maxLen bytes, such as a custom role's description: valid
// UTF-8, no control characters except newline and tab, and no bidi embeddings, overrides or
// isolates (U+202A to U+202E, U+2066 to U+2069), which can make text display in another order
// than it is stored. Other format characters stay allowed: zero-width joiners build emoji
// sequences and are needed by some scripts, and bidi marks only affect the characters next to
// them.
func CheckDescription(field, text string, maxLen int) error {
	switch {
	case len(text) > maxLen:
		return store.Invalid(field, store.CodeTooLong, maxLen, "%d bytes at most, got %d", maxLen, len(text))
	case !utf8.ValidString(text):
		return store.Invalid(field, store.CodeInvalidValue, 0, "must be valid UTF-8")
	}
	if i := strings.IndexFunc(text, hiddenInText); i >= 0 {
		r, _ := utf8.DecodeRuneInString(text[i:])
		return store.Invalid(field, store.CodeInvalidValue, 0, "must not contain control characters other than newline and tab, nor bidi embeddings, overrides or isolates (U+%04X at byte %d)", r, i)
	}
	return nil
}

// hiddenInText reports whether r is a character CheckDescription refuses.
func hiddenInText(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case unicode.IsControl(r):
		return true
	}
	return r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
}
