package store

import (
	"fmt"
	"slices"
)

// The Validate methods check the rules every adapter enforces on a write, returning an
// *InvalidError. Adapters call them; callers normally see their errors through Put methods.

// Validate checks an Account.
func (a Account) Validate() error {
	if err := required("account.id", a.ID); err != nil {
		return err
	}
	if err := maxLen("account.name", a.Name, MaxNameLen); err != nil {
		return err
	}
	if a.Seats < 0 {
		return &InvalidError{Field: "account.seats", Reason: "must not be negative"}
	}
	return nil
}

// Validate checks a User.
func (u User) Validate() error {
	if err := required("user.id", u.ID); err != nil {
		return err
	}
	if err := required("user.email", u.Email); err != nil {
		return err
	}
	return maxLen("user.name", u.Name, MaxNameLen)
}

// Validate checks a Membership.
func (m Membership) Validate() error {
	if err := required("membership.account_id", m.AccountID); err != nil {
		return err
	}
	if err := required("membership.user_id", m.UserID); err != nil {
		return err
	}
	if m.Status != MemberActive && m.Status != MemberDisabled {
		return &InvalidError{Field: "membership.status", Reason: fmt.Sprintf("must be %q or %q", MemberActive, MemberDisabled)}
	}
	return nil
}

// Validate checks an Invitation.
func (i Invitation) Validate() error {
	if err := required("invitation.id", i.ID); err != nil {
		return err
	}
	if err := required("invitation.account_id", i.AccountID); err != nil {
		return err
	}
	return required("invitation.email", i.Email)
}

// Validate checks a BotUser.
func (b BotUser) Validate() error {
	if err := required("bot_user.id", b.ID); err != nil {
		return err
	}
	if err := required("bot_user.account_id", b.AccountID); err != nil {
		return err
	}
	if err := required("bot_user.name", b.Name); err != nil {
		return err
	}
	return maxLen("bot_user.name", b.Name, MaxNameLen)
}

// Validate checks a Credential.
func (c Credential) Validate() error {
	for _, f := range [...]struct{ name, v string }{
		{"credential.id", c.ID}, {"credential.account_id", c.AccountID}, {"credential.owner_id", c.OwnerID},
	} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	if !c.Kind.Valid() {
		return &InvalidError{Field: "credential.kind", Reason: fmt.Sprintf("unknown kind %q", c.Kind)}
	}
	if err := maxLen("credential.description", c.Description, MaxDescriptionLen); err != nil {
		return err
	}
	if err := maxLen("credential.metadata", c.Metadata, MaxMetadataLen); err != nil {
		return err
	}
	if c.Kind == SSHCredential {
		if err := required("credential.public_key", c.PublicKey); err != nil {
			return err
		}
		return required("credential.fingerprint", c.Fingerprint)
	}
	return required("credential.secret_hash", c.SecretHash)
}

// CheckCredentialChange returns an *ImmutableError if next changes a field of prev that is
// fixed at creation.
func CheckCredentialChange(prev, next Credential) error {
	switch {
	case prev.AccountID != next.AccountID:
		return &ImmutableError{Kind: KindCredential, Field: "account_id"}
	case prev.OwnerID != next.OwnerID:
		return &ImmutableError{Kind: KindCredential, Field: "owner_id"}
	case prev.Kind != next.Kind:
		return &ImmutableError{Kind: KindCredential, Field: "kind"}
	case prev.SecretHash != next.SecretHash:
		return &ImmutableError{Kind: KindCredential, Field: "secret_hash"}
	case prev.Fingerprint != next.Fingerprint || prev.PublicKey != next.PublicKey:
		return &ImmutableError{Kind: KindCredential, Field: "public_key"}
	}
	return nil
}

// OwnerStateOf derives the state of ownerID as an owner of credentials in accountID from the
// bot user with that ID and the membership of that ID in accountID, either of which may be nil
// (not found). Adapters use it to answer Reader.OwnerState the same way.
func OwnerStateOf(accountID string, bot *BotUser, m *Membership) OwnerState {
	switch {
	case bot != nil && bot.AccountID != accountID:
		return OwnerMissing
	case bot != nil && bot.Active:
		return OwnerActive
	case bot != nil:
		return OwnerInactive
	case m == nil:
		return OwnerMissing
	case m.Status == MemberActive:
		return OwnerActive
	}
	return OwnerInactive
}

// CheckNewCredentialOwner returns the *InvalidError a write of a new credential gets when
// its owner is not in its account.
func CheckNewCredentialOwner(st OwnerState) error {
	if st == OwnerMissing {
		return &InvalidError{Field: "credential.owner_id", Reason: "not a bot user or member of the credential's account"}
	}
	return nil
}

// CheckBotUserChange returns an *ImmutableError if next moves a bot user to another account.
func CheckBotUserChange(prev, next BotUser) error {
	if prev.AccountID != next.AccountID {
		return &ImmutableError{Kind: KindBotUser, Field: "account_id"}
	}
	return nil
}

// Validate checks a Role.
func (r Role) Validate() error {
	if err := required("role.id", r.ID); err != nil {
		return err
	}
	if err := required("role.account_id", r.AccountID); err != nil {
		return err
	}
	if err := required("role.name", r.Name); err != nil {
		return err
	}
	if err := maxLen("role.name", r.Name, MaxNameLen); err != nil {
		return err
	}
	return maxLen("role.description", r.Description, MaxDescriptionLen)
}

// Validate checks an IdentityProvider.
func (p IdentityProvider) Validate() error {
	if err := required("identity_provider.id", p.ID); err != nil {
		return err
	}
	if err := required("identity_provider.account_id", p.AccountID); err != nil {
		return err
	}
	if err := required("identity_provider.entity_id", p.EntityID); err != nil {
		return err
	}
	return maxLen("identity_provider.description", p.Description, MaxDescriptionLen)
}

// Validate checks an ExternalIdentity.
func (x ExternalIdentity) Validate() error {
	for _, f := range [...]struct{ name, v string }{
		{"external_identity.account_id", x.AccountID}, {"external_identity.idp_id", x.IdPID},
		{"external_identity.subject", x.Subject}, {"external_identity.user_id", x.UserID},
	} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	return maxLen("external_identity.subject", x.Subject, MaxSubjectLen)
}

// Validate checks an Event.
func (e Event) Validate() error {
	if err := required("event.id", e.ID); err != nil {
		return err
	}
	if err := required("event.account_id", e.AccountID); err != nil {
		return err
	}
	return required("event.type", e.Type)
}

// Validate checks a Page.
func (p Page) Validate() error {
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return &InvalidError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxPageLimit, p.Limit)}
	}
	return nil
}

func required(field, v string) error {
	if v == "" {
		return &InvalidError{Field: field, Reason: "required"}
	}
	return nil
}

func maxLen(field, v string, limit int) error {
	if len(v) > limit {
		return &InvalidError{Field: field, Reason: fmt.Sprintf("%d bytes at most, got %d", limit, len(v))}
	}
	return nil
}

// The Clone methods return deep copies: adapters use them so that no caller shares memory
// with the store.

// Clone returns a deep copy of m.
func (m Membership) Clone() Membership { m.Roles = slices.Clone(m.Roles); return m }

// Clone returns a deep copy of i.
func (i Invitation) Clone() Invitation { i.Roles = slices.Clone(i.Roles); return i }

// Clone returns a deep copy of b.
func (b BotUser) Clone() BotUser { b.Roles = slices.Clone(b.Roles); return b }

// Clone returns a deep copy of c.
func (c Credential) Clone() Credential { c.ACL = slices.Clone(c.ACL); return c }

// Clone returns a deep copy of r.
func (r Role) Clone() Role { r.Permissions = slices.Clone(r.Permissions); return r }

// Clone returns a deep copy of p.
func (p IdentityProvider) Clone() IdentityProvider {
	p.DefaultRoles = slices.Clone(p.DefaultRoles)
	p.Domains = slices.Clone(p.Domains)
	return p
}

// Clone returns a deep copy of e.
func (e Event) Clone() Event { e.Object = slices.Clone(e.Object); return e }
