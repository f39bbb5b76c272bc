package credential

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
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
	ACL         []string             `json:"acl"`                   // authtokens and SSH keys
	PublicKey   string               `json:"public_key,omitempty"`  // SSH keys: authorized_keys form
	Fingerprint string               `json:"fingerprint,omitempty"` // SSH keys
	ExpiresAt   time.Time            `json:"expires_at,omitzero"`
	CreatedAt   time.Time            `json:"created_at"`
	LastUsedAt  time.Time            `json:"last_used_at,omitzero"`
}

func fromStore(c store.Credential) Credential {
	return Credential{
		ID: c.ID, AccountID: c.AccountID, Kind: c.Kind, OwnerID: c.OwnerID,
		Description: c.Description, Metadata: c.Metadata, ACL: slices.Clone(c.ACL),
		PublicKey: c.PublicKey, Fingerprint: c.Fingerprint,
		ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt,
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
	ACL         []string // bind rules; authtokens and SSH keys only, on plans with credential ACLs
	PublicKey   string   // SSH keys: an authorized_keys line
	ExpiresAt   time.Time
}

// UpdateRequest changes a credential's description, metadata or ACL. A nil field is left
// as it is; at least one must be set. Nothing else about a credential can change.
type UpdateRequest struct {
	Description *string
	Metadata    *string
	ACL         *[]string
}

// ErrNoChanges is matched by the error of an update that sets nothing. It also matches
// identity.ErrInvalid.
var ErrNoChanges = errors.New("credential: update with no values; specify at least one")

type noChangesError struct{}

func (noChangesError) Error() string { return ErrNoChanges.Error() }

func (noChangesError) Is(target error) bool {
	return target == ErrNoChanges || target == identity.ErrInvalid
}

// ErrOwnerInactive is matched by the error of creating a credential for a deactivated bot
// user or a disabled member.
var ErrOwnerInactive = errors.New("credential: the owner is inactive")

// SSHKeyInUseError says an SSH public key is already a credential: in the same account, or in
// another one (which it does not name). It matches store.ErrConflict.
type SSHKeyInUseError struct {
	SameAccount bool
}

func (e *SSHKeyInUseError) Error() string {
	if e.SameAccount {
		return "credential: this SSH public key already exists on the account"
	}
	return "credential: this SSH public key is already used in a different account"
}

// Is reports whether target is store.ErrConflict.
func (e *SSHKeyInUseError) Is(target error) bool { return target == store.ErrConflict }

// Service issues, reads, updates and deletes credentials, enforcing who may do what with the
// Authorizer and writing an audit event for every change. It is safe for concurrent use.
type Service struct {
	st     store.Store
	authz  *rbac.Authorizer
	hasher *Hasher
	clock  clock.Clock
	rand   io.Reader
	ids    *id.Generator
	rec    audit.Recorder
}

// NewService returns a Service on st that asks authz (and its plan catalog) who may do what.
// It takes the options WithHasher, WithClock, WithRandom and WithLogger.
func NewService(st store.Store, authz *rbac.Authorizer, opts ...Option) *Service {
	c := newConfig(opts)
	r := c.rand
	if r == nil {
		r = rand.Reader
	}
	ids := id.NewGenerator(c.clock, r)
	return &Service{
		st: st, authz: authz, hasher: c.hasher, clock: c.clock, rand: r, ids: ids,
		rec: audit.Recorder{IDs: ids, Clock: c.clock},
	}
}

// idPrefix is the ID prefix of each credential kind.
func idPrefix(k store.CredentialKind) (id.Prefix, error) {
	switch k {
	case store.Authtoken:
		return id.Authtoken, nil
	case store.APIKey:
		return id.APIKey, nil
	case store.SSHCredential:
		return id.SSHCredential, nil
	}
	return "", &identity.ValidationError{Field: "kind", Reason: fmt.Sprintf("must be %q, %q or %q", store.Authtoken, store.APIKey, store.SSHCredential)}
}

func checkText(description, metadata *string) error {
	if description != nil && len(*description) > store.MaxDescriptionLen {
		return &identity.ValidationError{Field: "description", Reason: fmt.Sprintf("%d bytes at most, got %d", store.MaxDescriptionLen, len(*description))}
	}
	if metadata != nil && len(*metadata) > store.MaxMetadataLen {
		return &identity.ValidationError{Field: "metadata", Reason: fmt.Sprintf("%d bytes at most, got %d", store.MaxMetadataLen, len(*metadata))}
	}
	return nil
}

// checkACL validates rules for a credential kind and the account's plan.
func (s *Service) checkACL(acct store.Account, kind store.CredentialKind, rules []string) error {
	if len(rules) == 0 {
		return nil
	}
	if kind == store.APIKey {
		return &identity.ValidationError{Field: "acl", Reason: "API keys take no ACL"}
	}
	plan, err := s.authz.Catalog().PlanOf(acct)
	if err != nil {
		return err
	}
	if !plan.Has(identity.FeatureCredentialACLs) {
		return &identity.FeatureError{Feature: identity.FeatureCredentialACLs, Plan: plan.Name}
	}
	_, err = ParseACL(rules)
	return err
}

// Create issues a credential of req.Kind in the principal's account. Tokens are returned once,
// in Issued.Token; the store keeps only their hash.
func (s *Service) Create(ctx context.Context, by identity.Principal, req CreateRequest) (Issued, error) {
	prefix, err := idPrefix(req.Kind)
	if err != nil {
		return Issued{}, err
	}
	if err := by.Validate(by.AccountID); err != nil {
		return Issued{}, err
	}
	if err := checkText(&req.Description, &req.Metadata); err != nil {
		return Issued{}, err
	}
	owner := req.OwnerID
	if owner == "" {
		owner = by.ID
	} else if _, err := id.PrefixOf(owner); err != nil {
		return Issued{}, &identity.ValidationError{Field: "owner_id", Reason: err.Error()}
	}
	var ssh SSHPublicKey
	switch {
	case req.Kind == store.SSHCredential:
		if ssh, err = ParseSSHPublicKey(req.PublicKey); err != nil {
			return Issued{}, err
		}
	case req.PublicKey != "":
		return Issued{}, &identity.ValidationError{Field: "public_key", Reason: "only SSH credentials take a public key"}
	}
	var out Issued
	err = s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		if err := s.authz.RequireIn(ctx, tx, by, acct.ID, rbac.CredentialsWrite); err != nil {
			return err
		}
		if owner != by.ID {
			if err := s.authz.RequireIn(ctx, tx, by, acct.ID, rbac.CredentialsAssignOwner); err != nil {
				return err
			}
		}
		switch st, err := tx.OwnerState(ctx, acct.ID, owner); {
		case err != nil:
			return err
		case st == store.OwnerMissing:
			return &identity.ValidationError{Field: "owner_id", Reason: "not a member or bot user of the account"}
		case st == store.OwnerInactive:
			return ErrOwnerInactive
		}
		if err := s.checkACL(acct, req.Kind, req.ACL); err != nil {
			return err
		}
		cid, err := s.ids.NewIn(prefix, acct.ID)
		if err != nil {
			return err
		}
		c := store.Credential{
			ID: cid, AccountID: acct.ID, Kind: req.Kind, OwnerID: owner,
			Description: req.Description, Metadata: req.Metadata, ACL: slices.Clone(req.ACL),
			ExpiresAt: req.ExpiresAt, CreatedAt: s.clock.Now().UTC(),
		}
		out = Issued{}
		if req.Kind == store.SSHCredential {
			c.PublicKey, c.Fingerprint = ssh.AuthorizedKey, ssh.Fingerprint
			if prev, err := tx.CredentialByFingerprint(ctx, ssh.Fingerprint); err == nil {
				return &SSHKeyInUseError{SameAccount: prev.AccountID == acct.ID}
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
			var ce *store.ConflictError
			if errors.As(err, &ce) && ce.Index == "fingerprint" {
				return &SSHKeyInUseError{} // claimed by another account between our check and the write
			}
			return err
		}
		out.Credential = fromStore(c)
		created, _, _ := audit.CredentialTypes(req.Kind)
		return s.rec.Record(ctx, tx, acct.ID, created, by.Audit(), c)
	})
	if err != nil {
		return Issued{}, err
	}
	return out, nil
}

// lookup reads a credential of one kind in the principal's account, checking the ID's prefix
// before any lookup. A credential of another account is not found.
func lookup(ctx context.Context, r store.Reader, by identity.Principal, kind store.CredentialKind, credentialID string) (store.Credential, error) {
	prefix, err := idPrefix(kind)
	if err != nil {
		return store.Credential{}, err
	}
	if err := identity.CheckID("id", credentialID, prefix); err != nil {
		return store.Credential{}, err
	}
	c, err := r.Credential(ctx, credentialID)
	if err == nil && c.AccountID != by.AccountID {
		err = store.ErrNotFound
	}
	return c, err
}

// Get returns one credential of the principal's account.
func (s *Service) Get(ctx context.Context, by identity.Principal, kind store.CredentialKind, credentialID string) (Credential, error) {
	var out Credential
	err := s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, by.AccountID, rbac.CredentialsRead); err != nil {
			return err
		}
		c, err := lookup(ctx, r, by, kind, credentialID)
		out = fromStore(c)
		return err
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

// List returns one newest-first page of the account's credentials of one kind.
func (s *Service) List(ctx context.Context, by identity.Principal, kind store.CredentialKind, p store.Page) ([]Credential, error) {
	prefix, err := idPrefix(kind)
	if err != nil {
		return nil, err
	}
	if err := identity.CheckPage(p, prefix); err != nil {
		return nil, err
	}
	var out []Credential
	err = s.st.View(ctx, func(r store.Reader) error {
		if err := s.authz.RequireIn(ctx, r, by, by.AccountID, rbac.CredentialsRead); err != nil {
			return err
		}
		cs, err := r.Credentials(ctx, by.AccountID, kind, p)
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

// Update changes a credential's description, metadata or ACL.
func (s *Service) Update(ctx context.Context, by identity.Principal, kind store.CredentialKind, credentialID string, req UpdateRequest) (Credential, error) {
	if req.Description == nil && req.Metadata == nil && req.ACL == nil {
		return Credential{}, noChangesError{}
	}
	if err := checkText(req.Description, req.Metadata); err != nil {
		return Credential{}, err
	}
	var out Credential
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, by.AccountID, rbac.CredentialsWrite); err != nil {
			return err
		}
		c, err := lookup(ctx, tx, by, kind, credentialID)
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
			if err := s.checkACL(acct, kind, *req.ACL); err != nil {
				return err
			}
			c.ACL = slices.Clone(*req.ACL)
		}
		if err := tx.PutCredential(ctx, c); err != nil {
			return err
		}
		out = fromStore(c)
		_, updated, _ := audit.CredentialTypes(kind)
		return s.rec.Record(ctx, tx, c.AccountID, updated, by.Audit(), c)
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

// Delete revokes and deletes a credential. It cannot be restored.
func (s *Service) Delete(ctx context.Context, by identity.Principal, kind store.CredentialKind, credentialID string) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, by.AccountID, rbac.CredentialsWrite); err != nil {
			return err
		}
		c, err := lookup(ctx, tx, by, kind, credentialID)
		if err != nil {
			return err
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		_, _, deleted := audit.CredentialTypes(kind)
		return s.rec.Record(ctx, tx, c.AccountID, deleted, by.Audit(), c)
	})
}
