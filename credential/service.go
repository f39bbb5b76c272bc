package credential

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Credential is a credential as callers see it: everything but its secret.
type Credential struct {
	ID          string               `json:"id"`
	AccountID   string               `json:"account_id"`
	Kind        store.CredentialKind `json:"kind"`
	OwnerID     string               `json:"owner_id"`
	Description string               `json:"description"`
	Metadata    string               `json:"metadata"`
	ACL         []string             `json:"acl"`                   // authtokens, access tokens and SSH keys
	Scopes      []string             `json:"scopes,omitempty"`      // access tokens: permission names
	AllowedIPs  []string             `json:"allowed_ips,omitempty"` // canonical prefixes; empty: any address
	PublicKey   string               `json:"public_key,omitempty"`  // SSH keys: authorized_keys form
	Fingerprint string               `json:"fingerprint,omitempty"` // SSH keys
	RotatedFrom string               `json:"rotated_from,omitempty"`
	RotatedTo   string               `json:"rotated_to,omitempty"`
	ExpiresAt   time.Time            `json:"expires_at,omitzero"`
	CreatedAt   time.Time            `json:"created_at"`
	LastUsedAt  time.Time            `json:"last_used_at,omitzero"`
	LastUsedIP  netip.Addr           `json:"last_used_ip,omitzero"`
}

func fromStore(c store.Credential) Credential {
	return Credential{
		ID: c.ID, AccountID: c.AccountID, Kind: c.Kind, OwnerID: c.OwnerID,
		Description: c.Description, Metadata: c.Metadata, ACL: slices.Clone(c.ACL),
		Scopes: slices.Clone(c.Scopes), AllowedIPs: slices.Clone(c.AllowedIPs),
		PublicKey: c.PublicKey, Fingerprint: c.Fingerprint, RotatedFrom: c.RotatedFrom, RotatedTo: c.RotatedTo,
		ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt, LastUsedIP: c.LastUsedIP,
	}
}

// Issued is a credential just created. Token is its secret, shown this once (zero for SSH
// keys, whose secret the client keeps). It redacts itself when printed or marshalled.
type Issued struct {
	Credential
	Token Secret `json:"token"`
}

// CreateRequest is what Service.Create needs.
type CreateRequest struct {
	Kind store.CredentialKind
	// OwnerID is the user or bot user that will own the credential, forever. Empty means the
	// acting principal; naming another needs the assign-owner permission (administrators,
	// on plans with owner assignment).
	OwnerID     string
	Description string   // at most 255 bytes
	Metadata    string   // at most 4096 bytes
	ACL         []string // bind rules; authtokens, access tokens and SSH keys, on plans with credential ACLs
	PublicKey   string   // SSH keys: an authorized_keys line
	// Scopes are an access token's permissions, by name (rbac's registry, such as
	// "credentials:read" or "tunnel:start"): at least one, each held by the creator (only
	// access tokens take scopes). At use the token may do what its scopes allow and its
	// owner's roles grant at that moment.
	Scopes []string
	// AllowedIPs restricts where the credential may be used from: IPv4 and IPv6 prefixes or
	// addresses (NormalizeAllowedIPs), at most MaxAllowedIPs. Empty: anywhere.
	AllowedIPs []string
	// ExpiresAt is when the credential stops working; zero for never. Under an account
	// credential policy with a maximum lifetime for the kind, it must be within it, and zero
	// means the maximum.
	ExpiresAt time.Time
}

// UpdateRequest changes a credential's description, metadata, ACL, address allow-list or
// expiry. A nil field is left as it is; at least one must be set. Nothing else about a
// credential can change: an access token's scopes are fixed (create another, or rotate).
type UpdateRequest struct {
	Description *string
	Metadata    *string
	ACL         *[]string
	AllowedIPs  *[]string
	// ExpiresAt sets a new expiry, in the future, or the zero time for never; under a
	// credential policy the credential's whole lifetime (from its creation) must stay within
	// the policy's maximum.
	ExpiresAt *time.Time
}

// Service issues, reads, updates and deletes credentials, enforcing who may do what with the
// Authorizer and writing an audit event for every change. It is safe for concurrent use.
type Service struct {
	st     store.Store
	authz  *rbac.Authorizer
	hasher *Hasher
	clock  store.Clock
	rand   io.Reader
	ids    *id.Generator
	rec    audit.Recorder[identity.Resource]
}

// NewService returns a Service on st that asks authz (and its plan catalog) who may do what.
// It takes the options WithHasher, WithClock and WithRandom. A nil store or authorizer, or
// an option set to nil, is an error matching store.ErrInvalid that names it.
func NewService(st store.Store, authz *rbac.Authorizer, opts ...Option) (*Service, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case authz == nil:
		return nil, store.Invalid("authorizer", store.CodeRequired, 0, "required")
	}
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return nil, err
	}
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	ids := id.NewGenerator(c.clock, r)
	return &Service{
		st: st, authz: authz, hasher: c.hasher, clock: c.clock, rand: r, ids: ids,
		rec: audit.New(ids, c.clock, identity.ResourceOf),
	}, nil
}

// idPrefix is the ID prefix of each credential kind.
func idPrefix(k store.CredentialKind) (id.Prefix, error) {
	switch k {
	case store.Authtoken:
		return id.Authtoken, nil
	case store.APIKey:
		return id.APIKey, nil
	case store.AccessToken:
		return id.AccessToken, nil
	case store.SSHCredential:
		return id.SSHCredential, nil
	}
	return "", store.Invalid("kind", store.CodeInvalidValue, 0, "must be %q, %q, %q or %q", store.Authtoken, store.APIKey, store.AccessToken, store.SSHCredential)
}

// KindOf returns the kind of a credential ID (cr_, ak_, pat_ or sshcr_), or an error
// matching store.ErrInvalid for field "id" when it is no credential's ID.
func KindOf(credentialID string) (store.CredentialKind, error) {
	pre, err := id.PrefixOf(credentialID)
	if err == nil {
		switch pre {
		case id.Authtoken:
			return store.Authtoken, nil
		case id.APIKey:
			return store.APIKey, nil
		case id.AccessToken:
			return store.AccessToken, nil
		case id.SSHCredential:
			return store.SSHCredential, nil
		}
	}
	return "", store.Invalid("id", store.CodeInvalidValue, 0, "must be a credential's id (%s_, %s_, %s_ or %s_)", id.Authtoken, id.APIKey, id.AccessToken, id.SSHCredential)
}

func checkText(description, metadata *string) error {
	if description != nil && len(*description) > store.MaxDescriptionLen {
		return store.Invalid("description", store.CodeTooLong, store.MaxDescriptionLen, "%d bytes at most, got %d", store.MaxDescriptionLen, len(*description))
	}
	if metadata != nil && len(*metadata) > store.MaxMetadataLen {
		return store.Invalid("metadata", store.CodeTooLong, store.MaxMetadataLen, "%d bytes at most, got %d", store.MaxMetadataLen, len(*metadata))
	}
	return nil
}

// checkACL validates rules for a credential kind and the account's plan.
func (s *Service) checkACL(acct store.Account, kind store.CredentialKind, rules []string) error {
	if len(rules) == 0 {
		return nil
	}
	if kind == store.APIKey {
		return store.Invalid("acl", store.CodeInvalidValue, 0, "API keys take no ACL")
	}
	plan, err := s.authz.Catalog().PlanOf(acct)
	if err != nil {
		return err
	}
	if err := plan.Require(identity.FeatureCredentialACLs); err != nil {
		return err
	}
	_, err = ParseACL(rules)
	return err
}

// sshKeyInUse is the error of an SSH key that is already a credential, in this account or in
// another (which it does not name).
func sshKeyInUse(sameAccount bool) error {
	if sameAccount {
		return &store.Error{Kind: store.ErrConflict, Code: CodeSSHKeyInUse, Field: "public_key", Msg: "this SSH public key already exists on the account"}
	}
	return &store.Error{Kind: store.ErrConflict, Code: CodeSSHKeyInUseElsewhere, Field: "public_key", Msg: "this SSH public key is already used in a different account"}
}

// Create issues a credential of req.Kind in the principal's account. Tokens are returned once,
// in Issued.Token; the store keeps only their hash. by needs rbac.CredentialsWrite (and
// rbac.CredentialsAssignOwner to name another owner); an access token's scopes must be
// permissions by holds (rbac.Authorizer.HeldIn), or the error matches store.ErrDenied with
// rbac.CodeExceedsGrantor naming the first one it lacks. The account's credential policy
// bounds the expiry (CodeLifetimeExceedsPolicy).
func (s *Service) Create(ctx context.Context, by identity.Principal, req CreateRequest) (Issued, error) {
	prefix, err := idPrefix(req.Kind)
	if err != nil {
		return Issued{}, err
	}
	if err := by.Validate(); err != nil {
		return Issued{}, err
	}
	if err := checkText(&req.Description, &req.Metadata); err != nil {
		return Issued{}, err
	}
	allowed, err := NormalizeAllowedIPs(req.AllowedIPs)
	if err != nil {
		return Issued{}, err
	}
	scopes, err := s.parseScopes(req.Kind, req.Scopes)
	if err != nil {
		return Issued{}, err
	}
	owner := req.OwnerID
	if owner == "" {
		owner = by.ID
	} else if id.Check(owner, id.User) != nil && id.Check(owner, id.BotUser) != nil {
		return Issued{}, store.Invalid("owner_id", store.CodeInvalidValue, 0, "must be a user's or a bot user's id")
	}
	var ssh SSHPublicKey
	switch {
	case req.Kind == store.SSHCredential:
		if ssh, err = ParseSSHPublicKey(req.PublicKey); err != nil {
			return Issued{}, err
		}
	case req.PublicKey != "":
		return Issued{}, store.Invalid("public_key", store.CodeInvalidValue, 0, "only SSH credentials take a public key")
	}
	var out Issued
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsWrite); err != nil {
			return err
		}
		if owner != by.ID {
			if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsAssignOwner); err != nil {
				return err
			}
		}
		switch st, err := tx.OwnerState(ctx, acct.ID, owner); {
		case err != nil:
			return err
		case st == store.OwnerMissing:
			return store.Invalid("owner_id", CodeUnknownOwner, 0, "not a member or bot user of the account")
		case st == store.OwnerInactive:
			return store.NewError(store.ErrConflict, CodeOwnerInactive, "the owner is a deactivated bot user or a disabled member")
		}
		if err := s.checkACL(acct, req.Kind, req.ACL); err != nil {
			return err
		}
		if err := s.checkScopesHeld(ctx, tx, by, scopes); err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		expires, err := newExpiry(acct.CredentialPolicy, req.Kind, now, req.ExpiresAt)
		if err != nil {
			return err
		}
		cid, err := s.ids.NewIn(prefix, acct.ID)
		if err != nil {
			return err
		}
		c := store.Credential{
			ID: cid, AccountID: acct.ID, Kind: req.Kind, OwnerID: owner,
			Description: req.Description, Metadata: req.Metadata, ACL: slices.Clone(req.ACL),
			Scopes: scopes.names, AllowedIPs: allowed, ExpiresAt: expires, CreatedAt: now,
		}
		out = Issued{}
		if req.Kind == store.SSHCredential {
			c.PublicKey, c.Fingerprint = ssh.AuthorizedKey, ssh.Fingerprint
			if prev, err := tx.CredentialByFingerprint(ctx, ssh.Fingerprint); err == nil {
				return sshKeyInUse(prev.AccountID == acct.ID)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		} else {
			if out.Token, err = NewToken(req.Kind, cid, s.rand); err != nil {
				return err
			}
			c.SecretHash = s.hasher.HashHex(out.Token.Token())
		}
		if err := tx.PutCredential(ctx, c); err != nil {
			var se *store.Error
			if errors.As(err, &se) && se.Code == store.CodeAlreadyExists && se.Field == store.IndexFingerprint {
				return sshKeyInUse(false) // claimed by another account between our check and the write
			}
			return err
		}
		out.Credential = fromStore(c)
		created, _, _ := identity.CredentialEventTypes(req.Kind)
		return s.rec.Record(ctx, tx, acct.ID, created, by.Audit(), objectOf(c))
	})
	if err != nil {
		return Issued{}, err
	}
	return out, nil
}

// lookup reads a credential of the principal's account, checking the ID's prefix before any
// lookup. A credential of another account is not found.
func lookup(ctx context.Context, r store.Reader, by identity.Principal, credentialID string) (store.Credential, error) {
	if _, err := KindOf(credentialID); err != nil {
		return store.Credential{}, err
	}
	c, err := r.Credential(ctx, credentialID)
	if err == nil && c.AccountID != by.AccountID {
		err = store.ErrNotFound
	}
	return c, err
}

// Get returns one credential of the principal's account; its kind is its ID's (cr_, ak_,
// sshcr_). by needs rbac.CredentialsRead.
func (s *Service) Get(ctx context.Context, by identity.Principal, credentialID string) (Credential, error) {
	if err := by.Validate(); err != nil {
		return Credential{}, err
	}
	var out Credential
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, rbac.CredentialsRead); err != nil {
			return err
		}
		c, err := lookup(ctx, r, by, credentialID)
		out = fromStore(c)
		return err
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

// ListOption narrows Service.List.
type ListOption func(*listOptions)

type listOptions struct {
	unusedSince time.Time
}

// UnusedSince lists only the credentials not used since t: never used, or last used before
// it (Credential.LastUsedAt). Last uses reach the store off the Verifier's hot path, up to
// WithLastUsedInterval late.
func UnusedSince(t time.Time) ListOption { return func(o *listOptions) { o.unusedSince = t } }

// List returns one newest-first page of the account's credentials of one kind, narrowed by
// opts (UnusedSince); by needs rbac.CredentialsRead.
func (s *Service) List(ctx context.Context, by identity.Principal, kind store.CredentialKind, p store.Page, opts ...ListOption) ([]Credential, error) {
	var o listOptions
	for _, opt := range opts {
		opt(&o)
	}
	prefix, err := idPrefix(kind)
	if err != nil {
		return nil, err
	}
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, prefix); err != nil {
		return nil, err
	}
	var out []Credential
	err = s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, rbac.CredentialsRead); err != nil {
			return err
		}
		var cs []store.Credential
		if o.unusedSince.IsZero() {
			cs, err = r.Credentials(ctx, by.AccountID, kind, p)
		} else {
			cs, err = r.CredentialsUnusedSince(ctx, by.AccountID, kind, o.unusedSince, p)
		}
		out = make([]Credential, len(cs))
		for i, c := range cs {
			out[i] = fromStore(c)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update changes a credential's description, metadata, ACL, address allow-list or expiry;
// its kind is its ID's. by needs rbac.CredentialsWrite. An update that sets nothing is
// refused (code CodeNoChanges).
func (s *Service) Update(ctx context.Context, by identity.Principal, credentialID string, req UpdateRequest) (Credential, error) {
	if req.Description == nil && req.Metadata == nil && req.ACL == nil && req.AllowedIPs == nil && req.ExpiresAt == nil {
		return Credential{}, store.NewError(store.ErrInvalid, CodeNoChanges, "update with no values; specify at least one")
	}
	if err := by.Validate(); err != nil {
		return Credential{}, err
	}
	if err := checkText(req.Description, req.Metadata); err != nil {
		return Credential{}, err
	}
	var allowed []string
	if req.AllowedIPs != nil {
		var err error
		if allowed, err = NormalizeAllowedIPs(*req.AllowedIPs); err != nil {
			return Credential{}, err
		}
	}
	var out Credential
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsWrite); err != nil {
			return err
		}
		c, err := lookup(ctx, tx, by, credentialID)
		if err != nil {
			return err
		}
		if req.Description != nil {
			c.Description = *req.Description
		}
		if req.Metadata != nil {
			c.Metadata = *req.Metadata
		}
		if req.ACL != nil {
			acct, err := tx.Account(ctx, c.AccountID)
			if err != nil {
				return err
			}
			if err := s.checkACL(acct, c.Kind, *req.ACL); err != nil {
				return err
			}
			c.ACL = slices.Clone(*req.ACL)
		}
		if req.AllowedIPs != nil {
			c.AllowedIPs = allowed
		}
		if req.ExpiresAt != nil {
			acct, err := tx.Account(ctx, c.AccountID)
			if err != nil {
				return err
			}
			if c.ExpiresAt, err = changedExpiry(acct.CredentialPolicy, c, s.clock.Now().UTC(), *req.ExpiresAt); err != nil {
				return err
			}
		}
		if err := tx.PutCredential(ctx, c); err != nil {
			return err
		}
		out = fromStore(c)
		_, updated, _ := identity.CredentialEventTypes(c.Kind)
		return s.rec.Record(ctx, tx, c.AccountID, updated, by.Audit(), objectOf(c))
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

// Delete revokes and deletes a credential; its kind is its ID's. by needs
// rbac.CredentialsWrite. It cannot be restored.
func (s *Service) Delete(ctx context.Context, by identity.Principal, credentialID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsWrite); err != nil {
			return err
		}
		c, err := lookup(ctx, tx, by, credentialID)
		if err != nil {
			return err
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		_, _, deleted := identity.CredentialEventTypes(c.Kind)
		return s.rec.Record(ctx, tx, c.AccountID, deleted, by.Audit(), objectOf(c))
	})
}
