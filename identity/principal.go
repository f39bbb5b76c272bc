package identity

import (
	"context"
	"fmt"
	"strings"

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

// SourceLeakResponder is the source audit events record for a credential revoked because it
// leaked (credential's leak responder). It names no Principal's source: nobody acts through
// it, and Validate refuses it.
const SourceLeakResponder Source = "leak_responder"

// Principal is who acts: a user or a bot user, within one account, through one source and
// possibly one credential. It carries what audit events record. Every call that acts or
// reads on a principal's behalf acts in p.AccountID. It is a plain value; build it with
// PrincipalFor (or Directory.Principal, or credential.Result.Principal) from an
// authenticated identity, never from unauthenticated input.
type Principal struct {
	ID           string // usr_... or bot_...
	Kind         Kind
	AccountID    string // the account the principal acts in
	Subject      string // the user's email or the bot user's name
	Source       Source
	CredentialID string // the credential used; empty for dashboard sessions
	// Scope limits the principal to an access token's scopes: what it may do is what its
	// roles grant and its scope allows. The zero Scope limits nothing (a dashboard session,
	// an API key, an authtoken). A principal acting with an access token (CredentialID pat_)
	// must carry the token's Scope (credential.Result.Principal sets it): Validate refuses
	// one without, and rbac denies it everything.
	Scope Scope
}

// ScopeWords is the number of 64-bit words of a Scope, as of an rbac.Set.
const ScopeWords = 2

// Scope is the set of permissions an access token allows, as rbac compiles its scope names:
// bit p-1 of Words for rbac.Permission p, the layout of an rbac.Set. rbac ANDs it with the
// principal's grants on every check. The zero Scope is not limited: it places no limit. A
// Scope is a small comparable value.
type Scope struct {
	words   [ScopeWords]uint64
	limited bool
}

// ScopeOf returns the limited Scope that allows the permissions whose bits words hold (none,
// when they are all zero).
func ScopeOf(words [ScopeWords]uint64) Scope { return Scope{words: words, limited: true} }

// Limited reports whether s limits its principal (it is not the zero Scope).
func (s Scope) Limited() bool { return s.limited }

// Words returns the bits of the permissions s allows: all zero for the zero Scope, which
// limits nothing.
func (s Scope) Words() [ScopeWords]uint64 { return s.words }

// IsAccessTokenID reports whether credentialID is an access token's ID (its prefix is
// pat_): a principal acting with one must carry the token's Scope.
func IsAccessTokenID(credentialID string) bool {
	return strings.HasPrefix(credentialID, string(id.AccessToken)+"_")
}

// IsBot reports whether p is a bot user.
func (p Principal) IsBot() bool { return p.Kind == KindBotUser }

// Audit returns p as audit events record it.
func (p Principal) Audit() store.Principal {
	return store.Principal{ID: p.ID, Subject: p.Subject, Source: string(p.Source), CredentialID: p.CredentialID}
}

// Validate checks that p is well formed: a known kind whose ID has the matching prefix, an
// account ID, a known source, and a Scope if it acts with an access token. It does not
// consult the store. The error matches store.ErrInvalid and names the principal's field at
// fault.
func (p Principal) Validate() error {
	var want id.Prefix
	switch p.Kind {
	case KindUser:
		want = id.User
	case KindBotUser:
		want = id.BotUser
	default:
		return store.Invalid("principal.kind", store.CodeInvalidValue, 0, "must be user or bot_user")
	}
	if err := id.CheckArg("principal.id", p.ID, want); err != nil {
		return err
	}
	if err := id.CheckArg("principal.account_id", p.AccountID, id.Account); err != nil {
		return err
	}
	if IsAccessTokenID(p.CredentialID) && !p.Scope.Limited() {
		return store.Invalid("principal.scope", store.CodeRequired, 0, "a principal acting with an access token must carry its scope")
	}
	return checkSource("principal.source", p.Source)
}

// checkSource refuses a Source that is not one of the three.
func checkSource(field string, src Source) error {
	switch src {
	case SourceAPI, SourceDashboard, SourceSDK:
		return nil
	}
	return store.Invalid(field, store.CodeInvalidValue, 0, `must be "api", "dashboard" or "sdk"`)
}

// PrincipalFor builds the principal for principalID (a user or a bot user, told apart by the
// ID prefix) acting in accountID, reading its subject from r. A user must have a membership
// in the account and a bot user must belong to it, or the error matches store.ErrNotFound.
// It cannot build the principal of an access token (credentialID pat_), whose Scope only the
// credential Verifier knows: that is an error matching store.ErrInvalid.
// It does not check that the principal is active: authorization does (rbac), and so does the
// credential verifier through the owner's state. Use it inside a transaction; otherwise use
// Directory.Principal, or credential.Result.Principal after a verification.
func PrincipalFor(ctx context.Context, r store.Reader, accountID, principalID string, src Source, credentialID string) (Principal, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return Principal{}, err
	}
	p := Principal{ID: principalID, AccountID: accountID, Source: src, CredentialID: credentialID}
	prefix, err := id.PrefixOf(principalID)
	if err != nil {
		return Principal{}, store.Invalid("principal_id", store.CodeInvalidValue, 0, "must be a %s_ or %s_ id", id.User, id.BotUser)
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
		return Principal{}, store.Invalid("principal_id", store.CodeInvalidValue, 0, "must be a %s_ or %s_ id", id.User, id.BotUser)
	}
	if err := p.Validate(); err != nil {
		return Principal{}, err
	}
	return p, nil
}
