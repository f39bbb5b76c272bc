package identity

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Kind says whether a principal is a user or a bot user.
type Kind uint8

// Principal kinds. The zero Kind is invalid.
const (
	KindUser Kind = iota + 1
	KindBotUser
)

// String returns "user", "bot_user" or "invalid".
func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindBotUser:
		return "bot_user"
	}
	return "invalid"
}

// Source is how a principal reached the library: its API, the dashboard, or code embedding
// the library directly.
type Source string

// Sources, as audit events record them.
const (
	SourceAPI       Source = "api"
	SourceDashboard Source = "dashboard"
	SourceSDK       Source = "sdk"
)

// Principal is who acts: a user or a bot user, within one account, through one source and
// possibly one credential. It carries what audit events record. It is a plain value; build
// it with PrincipalFor (or Directory.Principal) from an authenticated identity, never from
// unauthenticated input.
type Principal struct {
	ID           string // usr_... or bot_...
	Kind         Kind
	AccountID    string // the account the principal acts in
	Subject      string // the user's email or the bot user's name
	Source       Source
	CredentialID string // the API key, authtoken or SSH key used; empty for dashboard sessions
}

// IsBot reports whether p is a bot user.
func (p Principal) IsBot() bool { return p.Kind == KindBotUser }

// Audit returns p as audit events record it.
func (p Principal) Audit() store.Principal {
	return store.Principal{ID: p.ID, Subject: p.Subject, Source: string(p.Source), CredentialID: p.CredentialID}
}

// Validate checks that p is well formed for accountID: a known kind whose ID has the
// matching prefix, acting in accountID. It does not consult the store.
func (p Principal) Validate(accountID string) error {
	if err := p.validateAuthenticated(); err != nil {
		return err
	}
	if p.AccountID != accountID {
		return &ValidationError{Field: "principal.account_id", Reason: "principal acts in another account"}
	}
	return nil
}

// validateAuthenticated checks that p is well formed, acting in whichever account: a known
// kind whose ID has the matching prefix, an account ID and a known source.
func (p Principal) validateAuthenticated() error {
	var want id.Prefix
	switch p.Kind {
	case KindUser:
		want = id.User
	case KindBotUser:
		want = id.BotUser
	default:
		return &ValidationError{Field: "principal.kind", Reason: "must be user or bot_user"}
	}
	if err := id.Check(p.ID, want); err != nil {
		return &ValidationError{Field: "principal.id", Reason: err.Error()}
	}
	if err := id.Check(p.AccountID, id.Account); err != nil {
		return &ValidationError{Field: "principal.account_id", Reason: err.Error()}
	}
	return checkSource("principal.source", p.Source)
}

// checkSource refuses a Source that is not one of the three.
func checkSource(field string, src Source) error {
	switch src {
	case SourceAPI, SourceDashboard, SourceSDK:
		return nil
	}
	return &ValidationError{Field: field, Reason: `must be "api", "dashboard" or "sdk"`}
}

// PrincipalFor builds the principal for principalID (a user or a bot user, told apart by the
// ID prefix) acting in accountID, reading its subject from r. A user must have a membership
// in the account and a bot user must belong to it, or the error matches ErrNotFound. It does
// not check that the principal is active: authorization does (rbac), and so does the
// credential verifier through store.OwnerState. Use it inside a transaction, or from a
// credential verifier that has a store.Reader at hand; otherwise use Directory.Principal.
func PrincipalFor(ctx context.Context, r store.Reader, accountID, principalID string, src Source, credentialID string) (Principal, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return Principal{}, err
	}
	p := Principal{ID: principalID, AccountID: accountID, Source: src, CredentialID: credentialID}
	prefix, err := id.PrefixOf(principalID)
	if err != nil {
		return Principal{}, &ValidationError{Field: "principal_id", Reason: err.Error()}
	}
	switch prefix {
	case id.User:
		p.Kind = KindUser
		if _, err := r.Membership(ctx, accountID, principalID); err != nil {
			return Principal{}, fmt.Errorf("identity: user %s in account %s: %w", principalID, accountID, err)
		}
		u, err := r.User(ctx, principalID)
		if err != nil {
			return Principal{}, fmt.Errorf("identity: user %s: %w", principalID, err)
		}
		p.Subject = u.Email
	case id.BotUser:
		p.Kind = KindBotUser
		b, err := r.BotUser(ctx, principalID)
		if err == nil && b.AccountID != accountID {
			err = store.ErrNotFound // a bot user exists in exactly one account
		}
		if err != nil {
			return Principal{}, fmt.Errorf("identity: bot user %s in account %s: %w", principalID, accountID, err)
		}
		p.Subject = b.Name
	default:
		return Principal{}, &ValidationError{Field: "principal_id", Reason: fmt.Sprintf("must be a %s_ or %s_ id", id.User, id.BotUser)}
	}
	if err := p.Validate(accountID); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// checkID validates an ID argument's prefix before any lookup.
func checkID(field, s string, want id.Prefix) error {
	if err := id.Check(s, want); err != nil {
		return &ValidationError{Field: field, Reason: err.Error()}
	}
	return nil
}

// CheckID returns a *ValidationError naming field if s is not a well-formed ID with prefix
// want. Domain packages call it on every ID argument before any lookup.
func CheckID(field, s string, want id.Prefix) error { return checkID(field, s, want) }
