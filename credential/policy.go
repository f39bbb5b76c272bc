package credential

import (
	"context"
	"fmt"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Lifetimes and scopes: the rules of an account's credential policy and of access tokens'
// scopes, which Create, Update and Rotate apply.

// DefaultMaxRotationOverlap is how long a rotated credential may stay valid beside its
// successor when the account's policy does not say (store.CredentialPolicy.MaxRotationOverlap
// zero): seven days, the longest overlap Stripe offers when it rolls a key.
const DefaultMaxRotationOverlap = 7 * 24 * time.Hour

// maxRotationOverlap is the policy's maximum overlap, or the default.
func maxRotationOverlap(p store.CredentialPolicy) time.Duration {
	if p.MaxRotationOverlap > 0 {
		return p.MaxRotationOverlap
	}
	return DefaultMaxRotationOverlap
}

// seconds is d in whole seconds, for an error's Limit.
func seconds(d time.Duration) int { return int(d / time.Second) }

// lifetimeExceeds is the error of an expiry beyond the policy's maximum lifetime max.
func lifetimeExceeds(kind store.CredentialKind, max time.Duration, why string) error {
	return &store.Error{
		Kind: store.ErrInvalid, Code: CodeLifetimeExceedsPolicy, Field: "expires_at", Limit: seconds(max),
		Msg: fmt.Sprintf("the account's credential policy limits %s credentials to a lifetime of %s: %s", kind, max, why),
	}
}

// newExpiry returns the expiry of a credential of kind created at now, asked to expire at
// expires (zero: never), under policy p: expires itself when within the policy's maximum
// lifetime for the kind, the maximum when none was asked for, and an error matching
// store.ErrInvalid (code CodeLifetimeExceedsPolicy, Limit the maximum in seconds) when it
// is beyond it. An expiry that is not in the future is refused (store.CodeOutOfRange).
func newExpiry(p store.CredentialPolicy, kind store.CredentialKind, now, expires time.Time) (time.Time, error) {
	if !expires.IsZero() && !expires.After(now) {
		return time.Time{}, store.Invalid("expires_at", store.CodeOutOfRange, 0, "must be in the future")
	}
	max := p.MaxLifetime(kind)
	switch {
	case max == 0:
		return expires, nil
	case expires.IsZero():
		return now.Add(max), nil
	case expires.Sub(now) > max:
		return time.Time{}, lifetimeExceeds(kind, max, "expires_at is further")
	}
	return expires, nil
}

// changedExpiry returns c's new expiry at now when an update asks for expires (zero: never):
// it must be in the future, and c's whole lifetime (from its creation) within the policy's
// maximum for its kind, which also refuses "never" when there is a maximum.
func changedExpiry(p store.CredentialPolicy, c store.Credential, now, expires time.Time) (time.Time, error) {
	if !expires.IsZero() && !expires.After(now) {
		return time.Time{}, store.Invalid("expires_at", store.CodeOutOfRange, 0, "must be in the future; delete the credential to revoke it now")
	}
	max := p.MaxLifetime(c.Kind)
	switch {
	case max == 0:
		return expires, nil
	case expires.IsZero():
		return time.Time{}, lifetimeExceeds(c.Kind, max, "the credential must expire")
	case expires.Sub(c.CreatedAt) > max:
		return time.Time{}, lifetimeExceeds(c.Kind, max, "its lifetime from its creation would be longer")
	}
	return expires, nil
}

// scopeSet is an access token's validated scopes: the names to store and the permissions
// they are.
type scopeSet struct {
	names []string
	perms rbac.Set
}

// parseScopes validates the scopes asked for a new credential of kind: none for kinds other
// than access tokens, and for an access token between one and store.MaxScopes names of
// permissions of the Authorizer's registry, without duplicates.
func (s *Service) parseScopes(kind store.CredentialKind, names []string) (scopeSet, error) {
	switch {
	case kind != store.AccessToken && len(names) > 0:
		return scopeSet{}, store.Invalid("scopes", store.CodeInvalidValue, 0, "only access tokens take scopes")
	case kind != store.AccessToken:
		return scopeSet{}, nil
	case len(names) == 0:
		return scopeSet{}, store.Invalid("scopes", store.CodeRequired, 0, "an access token needs at least one scope, such as credentials:read or tunnel:start")
	case len(names) > store.MaxScopes:
		return scopeSet{}, store.Invalid("scopes", store.CodeOutOfRange, store.MaxScopes, "%d scopes at most, got %d", store.MaxScopes, len(names))
	}
	out := scopeSet{names: make([]string, 0, len(names))}
	for i, name := range names {
		field := fmt.Sprintf("scopes[%d]", i)
		p, err := s.authz.Permission(name)
		if err != nil {
			return scopeSet{}, store.Invalid(field, rbac.CodeUnknownPermission, 0, "not a permission; scopes are permission names such as credentials:read")
		}
		if out.perms.Has(p) {
			return scopeSet{}, store.Invalid(field, store.CodeInvalidValue, 0, "a duplicate of an earlier scope")
		}
		out.perms = out.perms.With(p)
		out.names = append(out.names, name)
	}
	return out, nil
}

// checkScopesHeld refuses scopes that by does not hold itself (within its own scope, if it
// acts with an access token): nobody makes a token that may do more than they may. The
// error matches store.ErrDenied, code rbac.CodeExceedsGrantor, and names the first scope in
// Field.
func (s *Service) checkScopesHeld(ctx context.Context, r store.Reader, by identity.Principal, scopes scopeSet) error {
	if len(scopes.names) == 0 {
		return nil
	}
	held, err := s.authz.HeldIn(ctx, r, by)
	if err != nil {
		return err
	}
	for _, name := range scopes.names {
		if p, _ := s.authz.Permission(name); !held.Has(p) {
			return rbac.Decision{Permission: p, Name: name, Reason: rbac.ReasonExceedsGrantor}.Err()
		}
	}
	return nil
}

// Policy returns the credential policy of by's account; by needs rbac.AccountRead.
func (s *Service) Policy(ctx context.Context, by identity.Principal) (store.CredentialPolicy, error) {
	if err := by.Validate(); err != nil {
		return store.CredentialPolicy{}, err
	}
	var p store.CredentialPolicy
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, rbac.AccountRead); err != nil {
			return err
		}
		acct, err := r.Account(ctx, by.AccountID)
		p = acct.CredentialPolicy
		return err
	})
	return p, err
}

// SetPolicy replaces the credential policy of by's account and records an account_updated
// event; by needs rbac.AccountManage (administrators). Durations must be whole seconds, not
// negative; zero means the default (no maximum lifetime; DefaultMaxRotationOverlap). The
// policy bounds credentials created, updated or rotated from then on: those that exist keep
// their expiry.
func (s *Service) SetPolicy(ctx context.Context, by identity.Principal, p store.CredentialPolicy) (store.CredentialPolicy, error) {
	if err := by.Validate(); err != nil {
		return store.CredentialPolicy{}, err
	}
	if err := checkPolicy(p); err != nil {
		return store.CredentialPolicy{}, err
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, rbac.AccountManage); err != nil {
			return err
		}
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		if acct.CredentialPolicy == p {
			return nil
		}
		acct.CredentialPolicy = p
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, acct.ID, identity.EventAccountUpdated, by.Audit(), identity.AccountObjectOf(acct))
	})
	if err != nil {
		return store.CredentialPolicy{}, err
	}
	return p, nil
}

// checkPolicy refuses a negative duration or one that is not whole seconds, naming it.
func checkPolicy(p store.CredentialPolicy) error {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"authtoken_max_lifetime", p.AuthtokenMaxLifetime},
		{"api_key_max_lifetime", p.APIKeyMaxLifetime},
		{"ssh_key_max_lifetime", p.SSHKeyMaxLifetime},
		{"access_token_max_lifetime", p.AccessTokenMaxLifetime},
		{"max_rotation_overlap", p.MaxRotationOverlap},
	} {
		switch {
		case d.v < 0:
			return store.Invalid(d.field, store.CodeOutOfRange, 0, "must not be negative")
		case d.v%time.Second != 0:
			return store.Invalid(d.field, store.CodeInvalidValue, 0, "must be a whole number of seconds")
		}
	}
	return nil
}
