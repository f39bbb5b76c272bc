package store

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The Validate methods check the rules every write must keep, returning an *Error matching
// ErrInvalid that names the field. Store calls them on every Put; callers see their errors
// through the Tx.

// Validate checks an Account.
func (a Account) Validate() error {
	return firstError(
		required("account.id", a.ID),
		maxLen("account.name", a.Name, MaxNameLen),
		maxLen("account.key", a.Key, MaxNameLen),
		notNegative("account.seats", a.Seats),
		a.CredentialPolicy.validate("account.credential_policy"),
	)
}

// validate checks that no duration of the policy is negative.
func (p CredentialPolicy) validate(field string) error {
	return firstError(
		notNegativeDuration(field+".authtoken_max_lifetime", p.AuthtokenMaxLifetime),
		notNegativeDuration(field+".api_key_max_lifetime", p.APIKeyMaxLifetime),
		notNegativeDuration(field+".ssh_key_max_lifetime", p.SSHKeyMaxLifetime),
		notNegativeDuration(field+".access_token_max_lifetime", p.AccessTokenMaxLifetime),
		notNegativeDuration(field+".max_rotation_overlap", p.MaxRotationOverlap),
	)
}

// Validate checks a User.
func (u User) Validate() error {
	return firstError(
		required("user.id", u.ID),
		required("user.email", u.Email),
		maxLen("user.name", u.Name, MaxNameLen),
	)
}

// Validate checks a Membership.
func (m Membership) Validate() error {
	if err := firstError(required("membership.account_id", m.AccountID), required("membership.user_id", m.UserID)); err != nil {
		return err
	}
	if m.Status != MemberActive && m.Status != MemberDisabled {
		return Invalid("membership.status", CodeInvalidValue, 0, "must be %q or %q", MemberActive, MemberDisabled)
	}
	return nil
}

// Validate checks an Invitation.
func (i Invitation) Validate() error {
	return firstError(
		required("invitation.id", i.ID),
		required("invitation.account_id", i.AccountID),
		required("invitation.email", i.Email),
	)
}

// Validate checks a BotUser.
func (b BotUser) Validate() error {
	return firstError(
		required("bot_user.id", b.ID),
		required("bot_user.account_id", b.AccountID),
		required("bot_user.name", b.Name),
		maxLen("bot_user.name", b.Name, MaxNameLen),
	)
}

// Validate checks a Credential.
func (c Credential) Validate() error {
	if err := firstError(
		required("credential.id", c.ID),
		required("credential.account_id", c.AccountID),
		required("credential.owner_id", c.OwnerID),
	); err != nil {
		return err
	}
	if !c.Kind.Valid() {
		return Invalid("credential.kind", CodeInvalidValue, 0, "unknown kind %q", c.Kind)
	}
	if err := firstError(
		maxLen("credential.description", c.Description, MaxDescriptionLen),
		maxLen("credential.metadata", c.Metadata, MaxMetadataLen),
		c.validateScopes(),
		validateAllowedIPs("credential.allowed_ips", c.AllowedIPs),
		c.validateRotation(),
	); err != nil {
		return err
	}
	if c.Kind == SSHCredential {
		return firstError(required("credential.public_key", c.PublicKey), required("credential.fingerprint", c.Fingerprint))
	}
	return required("credential.secret_hash", c.SecretHash)
}

// validateScopes checks that an access token has between one and MaxScopes scopes of at most
// MaxScopeLen bytes, and that no other kind has any.
func (c Credential) validateScopes() error {
	const field = "credential.scopes"
	switch {
	case c.Kind != AccessToken && len(c.Scopes) > 0:
		return Invalid(field, CodeInvalidValue, 0, "only access tokens have scopes")
	case c.Kind == AccessToken && len(c.Scopes) == 0:
		return Invalid(field, CodeRequired, 0, "an access token needs at least one scope")
	case len(c.Scopes) > MaxScopes:
		return Invalid(field, CodeOutOfRange, MaxScopes, "%d scopes at most, got %d", MaxScopes, len(c.Scopes))
	}
	for i, sc := range c.Scopes {
		item := fmt.Sprintf("%s[%d]", field, i)
		if err := firstError(required(item, sc), maxLen(item, sc, MaxScopeLen)); err != nil {
			return err
		}
	}
	return nil
}

// validateAllowedIPs checks an address allow-list: at most MaxAllowedIPs prefixes, each in
// canonical form (CanonicalPrefix).
func validateAllowedIPs(field string, prefixes []string) error {
	if len(prefixes) > MaxAllowedIPs {
		return Invalid(field, CodeOutOfRange, MaxAllowedIPs, "%d prefixes at most, got %d", MaxAllowedIPs, len(prefixes))
	}
	for i, s := range prefixes {
		if !CanonicalPrefix(s) {
			return Invalid(fmt.Sprintf("%s[%d]", field, i), CodeInvalidValue, 0,
				"must be an IPv4 or IPv6 prefix in canonical form, such as 10.0.0.0/8 or 2001:db8::/32")
		}
	}
	return nil
}

// CanonicalPrefix reports whether s is an IP prefix in the canonical form Credential.AllowedIPs
// holds: what netip.Prefix.String writes for a masked prefix, without a zone and with an
// IPv4 address written as IPv4 (not mapped into IPv6).
func CanonicalPrefix(s string) bool {
	p, err := netip.ParsePrefix(s)
	return err == nil && p == p.Masked() && !p.Addr().Is4In6() && p.String() == s
}

// validateRotation checks that a credential is not its own predecessor or successor.
func (c Credential) validateRotation() error {
	switch {
	case c.RotatedFrom != "" && c.RotatedFrom == c.ID:
		return Invalid("credential.rotated_from", CodeInvalidValue, 0, "a credential cannot succeed itself")
	case c.RotatedTo != "" && c.RotatedTo == c.ID:
		return Invalid("credential.rotated_to", CodeInvalidValue, 0, "a credential cannot succeed itself")
	}
	return nil
}

// Validate checks a Role.
func (r Role) Validate() error {
	return firstError(
		required("role.id", r.ID),
		required("role.account_id", r.AccountID),
		required("role.name", r.Name),
		maxLen("role.name", r.Name, MaxNameLen),
		maxLen("role.description", r.Description, MaxDescriptionLen),
	)
}

// Validate checks an IdentityProvider.
func (p IdentityProvider) Validate() error {
	return firstError(
		required("identity_provider.id", p.ID),
		required("identity_provider.account_id", p.AccountID),
		required("identity_provider.entity_id", p.EntityID),
		maxLen("identity_provider.description", p.Description, MaxDescriptionLen),
		p.validateRoleRules(),
	)
}

func (p IdentityProvider) validateRoleRules() error {
	if len(p.RoleRules) > MaxRoleRules {
		return Invalid("identity_provider.role_rules", CodeTooLong, MaxRoleRules, "%d rules at most", MaxRoleRules)
	}
	for i, r := range p.RoleRules {
		field := fmt.Sprintf("identity_provider.role_rules[%d]", i)
		if err := firstError(required(field+".group", r.Group), maxLen(field+".group", r.Group, MaxNameLen)); err != nil {
			return err
		}
		if len(r.Roles) == 0 {
			return Invalid(field+".roles", CodeRequired, 0, "at least one role")
		}
	}
	if len(p.RoleRules) > 0 && p.RoleRulesBy == "" {
		return Invalid("identity_provider.role_rules_by", CodeRequired, 0, "required with role rules")
	}
	return nil
}

// Validate checks a Group.
func (g Group) Validate() error {
	if err := firstError(
		required("group.id", g.ID),
		required("group.account_id", g.AccountID),
		required("group.display_name", g.DisplayName),
		maxLen("group.display_name", g.DisplayName, MaxNameLen),
		maxLen("group.external_id", g.ExternalID, MaxNameLen),
	); err != nil {
		return err
	}
	if len(g.Members) > MaxGroupMembers {
		return Invalid("group.members", CodeTooLong, MaxGroupMembers, "%d members at most", MaxGroupMembers)
	}
	for _, m := range g.Members {
		if m == "" {
			return Invalid("group.members", CodeRequired, 0, "a member's user ID is required")
		}
	}
	return nil
}

// Validate checks a Domain.
func (d Domain) Validate() error {
	return firstError(
		required("domain.id", d.ID),
		required("domain.account_id", d.AccountID),
		required("domain.name", d.Name),
		maxLen("domain.name", d.Name, MaxDomainLen),
		required("domain.token", d.Token),
		maxLen("domain.token", d.Token, MaxTagLen*2),
	)
}

// Validate checks an ExternalIdentity.
func (x ExternalIdentity) Validate() error {
	return firstError(
		required("external_identity.account_id", x.AccountID),
		required("external_identity.idp_id", x.IdPID),
		required("external_identity.subject", x.Subject),
		required("external_identity.user_id", x.UserID),
		maxLen("external_identity.subject", x.Subject, MaxSubjectLen),
	)
}

// Validate checks an Event.
func (e Event) Validate() error {
	return firstError(
		required("event.id", e.ID),
		required("event.account_id", e.AccountID),
		required("event.type", string(e.Type)),
	)
}

// Validate checks UserSecrets.
func (u UserSecrets) Validate() error {
	if err := firstError(
		required("user_secrets.user_id", u.UserID),
		maxLen("user_secrets.password_hash", u.PasswordHash, MaxSecretLen),
		maxLen("user_secrets.totp_secret", u.TOTPSecret, MaxSecretLen),
	); err != nil {
		return err
	}
	switch {
	case u.PasswordHash != "" && !strings.HasPrefix(u.PasswordHash, "$"):
		return Invalid("user_secrets.password_hash", CodeInvalidValue, 0, "must be a PHC string")
	case u.TOTPConfirmed && u.TOTPSecret == "":
		return Invalid("user_secrets.totp_secret", CodeRequired, 0, "required when totp_confirmed")
	case len(u.RecoveryCodes) > MaxRecoveryCodes:
		return Invalid("user_secrets.recovery_codes", CodeOutOfRange, MaxRecoveryCodes, "%d at most, got %d", MaxRecoveryCodes, len(u.RecoveryCodes))
	}
	for _, c := range u.RecoveryCodes {
		if !isSHA256Hex(c) {
			return Invalid("user_secrets.recovery_codes", CodeInvalidValue, 0, "must be hex SHA-256 digests")
		}
	}
	return nil
}

// Validate checks a Session.
func (x Session) Validate() error {
	if err := firstError(
		required("session.id", x.ID),
		required("session.account_id", x.AccountID),
		required("session.user_id", x.UserID),
		tag("session.method", x.Method, true),
		tag("session.second_factor", x.SecondFactor, false),
		maxLen("session.user_agent", x.UserAgent, MaxUserAgentLen),
	); err != nil {
		return err
	}
	switch {
	case !isSHA256Hex(x.SecretHash):
		return Invalid("session.secret_hash", CodeInvalidValue, 0, "must be a hex SHA-256 digest")
	case x.IP != "" && !isCanonicalIP(x.IP):
		return Invalid("session.ip", CodeInvalidValue, 0, "must be an IP address in canonical form, without a zone")
	case x.ExpiresAt.IsZero():
		return Invalid("session.expires_at", CodeRequired, 0, "required")
	case !x.ExpiresAt.After(x.CreatedAt):
		return Invalid("session.expires_at", CodeOutOfRange, 0, "must be after created_at")
	}
	return nil
}

// isSHA256Hex reports whether s is 64 lower-case hexadecimal digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isCanonicalIP reports whether s is an IP address as netip.Addr.String writes it, without
// a zone and, for an IPv4 address, not IPv4-mapped.
func isCanonicalIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == "" && !a.Is4In6() && a.String() == s
}

// tag checks a short enumeration-like value: [a-z0-9_-], 1 to MaxTagLen bytes (empty is
// allowed unless req).
func tag(field, v string, req bool) error {
	if v == "" {
		if req {
			return Invalid(field, CodeRequired, 0, "required")
		}
		return nil
	}
	if len(v) > MaxTagLen {
		return Invalid(field, CodeTooLong, MaxTagLen, "%d bytes at most, got %d", MaxTagLen, len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return Invalid(field, CodeInvalidValue, 0, "must be made of a-z, 0-9, '_' and '-'")
		}
	}
	return nil
}

// Validate checks a Page.
func (p Page) Validate() error {
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return Invalid("limit", CodeOutOfRange, MaxPageLimit, "must be between 1 and %d, got %d", MaxPageLimit, p.Limit)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func required(field, v string) error {
	if v == "" {
		return Invalid(field, CodeRequired, 0, "required")
	}
	return nil
}

func maxLen(field, v string, limit int) error {
	if len(v) > limit {
		return Invalid(field, CodeTooLong, limit, "%d bytes at most, got %d", limit, len(v))
	}
	return nil
}

func notNegative(field string, n int) error {
	if n < 0 {
		return Invalid(field, CodeOutOfRange, 0, "must not be negative")
	}
	return nil
}

func notNegativeDuration(field string, d time.Duration) error {
	if d < 0 {
		return Invalid(field, CodeOutOfRange, 0, "must not be negative")
	}
	return nil
}

// The rules about fields fixed at creation.

// checkCredentialChange returns an error if next changes a field of prev that is fixed at
// creation.
func checkCredentialChange(prev, next Credential) error {
	switch {
	case prev.AccountID != next.AccountID:
		return immutable(KindCredential, "account_id")
	case prev.OwnerID != next.OwnerID:
		return immutable(KindCredential, "owner_id")
	case prev.Kind != next.Kind:
		return immutable(KindCredential, "kind")
	case prev.SecretHash != next.SecretHash:
		return immutable(KindCredential, "secret_hash")
	case prev.Fingerprint != next.Fingerprint || prev.PublicKey != next.PublicKey:
		return immutable(KindCredential, "public_key")
	case prev.RotatedFrom != next.RotatedFrom:
		return immutable(KindCredential, "rotated_from")
	}
	return nil
}

// checkSessionChange returns an error if next changes a field of prev that is fixed at
// creation.
func checkSessionChange(prev, next Session) error {
	switch {
	case prev.AccountID != next.AccountID:
		return immutable(KindSession, "account_id")
	case prev.UserID != next.UserID:
		return immutable(KindSession, "user_id")
	case prev.SecretHash != next.SecretHash:
		return immutable(KindSession, "secret_hash")
	case prev.Method != next.Method:
		return immutable(KindSession, "method")
	case prev.IdPID != next.IdPID:
		return immutable(KindSession, "idp_id")
	case !prev.CreatedAt.Equal(next.CreatedAt):
		return immutable(KindSession, "created_at")
	}
	return nil
}

// checkAccountFixed returns an error if a record of an account moves to another.
func checkAccountFixed(kind Kind, prev, next string) error {
	if prev != next {
		return immutable(kind, "account_id")
	}
	return nil
}

// ownerStateOf derives the state of ownerID as an owner of credentials in accountID from the
// bot user with that ID and the membership of that ID in accountID, either of which may be
// nil (not found).
func ownerStateOf(accountID string, bot *BotUser, m *Membership) OwnerState {
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

// The Clone methods return deep copies.

func (a Account) clone() Account { return a }

func (u User) clone() User { return u }

func (p IPPolicy) clone() IPPolicy { return p }

func (r IPPolicyRule) clone() IPPolicyRule { return r }

// Clone returns a deep copy of x.
func (x IPRestriction) Clone() IPRestriction { x.PolicyIDs = slices.Clone(x.PolicyIDs); return x }

func (x ExternalIdentity) clone() ExternalIdentity { return x }

func (d Domain) clone() Domain { return d }

func (t Tombstone) clone() Tombstone { return t }

func (x Session) clone() Session { return x }

// Clone returns a deep copy of u.
func (u UserSecrets) Clone() UserSecrets { u.RecoveryCodes = slices.Clone(u.RecoveryCodes); return u }

// Clone returns a deep copy of m.
func (m Membership) Clone() Membership { m.Roles = slices.Clone(m.Roles); return m }

// Clone returns a deep copy of i.
func (i Invitation) Clone() Invitation { i.Roles = slices.Clone(i.Roles); return i }

// Clone returns a deep copy of b.
func (b BotUser) Clone() BotUser { b.Roles = slices.Clone(b.Roles); return b }

// Clone returns a deep copy of c.
func (c Credential) Clone() Credential {
	c.ACL = slices.Clone(c.ACL)
	c.Scopes = slices.Clone(c.Scopes)
	c.AllowedIPs = slices.Clone(c.AllowedIPs)
	return c
}

// Clone returns a deep copy of r.
func (r Role) Clone() Role { r.Permissions = slices.Clone(r.Permissions); return r }

// Clone returns a deep copy of p.
func (p IdentityProvider) Clone() IdentityProvider {
	p.DefaultRoles = slices.Clone(p.DefaultRoles)
	p.Domains = slices.Clone(p.Domains)
	if p.RoleRules != nil {
		rules := make([]RoleRule, len(p.RoleRules))
		for i, r := range p.RoleRules {
			rules[i] = RoleRule{Group: r.Group, Roles: slices.Clone(r.Roles)}
		}
		p.RoleRules = rules
	}
	p.Scopes = slices.Clone(p.Scopes)
	return p
}

// Clone returns a deep copy of g.
func (g Group) Clone() Group { g.Members = slices.Clone(g.Members); return g }

// Clone returns a deep copy of e.
func (e Event) Clone() Event { e.Object = slices.Clone(e.Object); return e }
