package credential

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Rotate issues the successor of a token credential (an authtoken, API key or access token)
// and keeps the credential itself valid until overlapUntil, so that its users can move to the
// successor without an outage. The successor has the same owner, kind, description,
// metadata, ACL, scopes and address allow-list, and RotatedFrom naming the credential; it
// lives as long as the credential was made to (ExpiresAt minus CreatedAt, from now), within
// the account's policy, or without expiry if the credential had none and the policy allows.
// The credential gets RotatedTo naming the successor and expires at overlapUntil, or earlier
// if it already did. Both are written, with a *_created event for the successor and a
// *_updated event for the credential, in one transaction.
//
// overlapUntil may be now (no overlap: the credential stops at once; the zero time means
// now too) and at most the account's policy's maximum overlap away
// (store.CredentialPolicy.MaxRotationOverlap, DefaultMaxRotationOverlap when unset; further
// is CodeOverlapExceedsPolicy). A credential already rotated is refused
// (store.ErrConflict, CodeAlreadyRotated): rotate its successor. SSH keys, whose secret the
// client holds, cannot be rotated here.
//
// by needs rbac.CredentialsWrite, and rbac.CredentialsAssignOwner for a credential it does
// not own: a rotation hands its caller a new secret of the owner's. An access token's scopes
// must still be permissions by holds. Issued is the successor with its token, shown this
// once; the Credential is the rotated one.
func (s *Service) Rotate(ctx context.Context, by identity.Principal, credentialID string, overlapUntil time.Time) (Issued, Credential, error) {
	kind, err := KindOf(credentialID)
	if err != nil {
		return Issued{}, Credential{}, err
	}
	if kind == store.SSHCredential {
		return Issued{}, Credential{}, store.Invalid("id", store.CodeInvalidValue, 0, "SSH keys cannot be rotated: register a new key and delete the old one")
	}
	if err := by.Validate(); err != nil {
		return Issued{}, Credential{}, err
	}
	var (
		succ Issued
		pred Credential
	)
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsWrite); err != nil {
			return err
		}
		old, err := lookup(ctx, tx, by, credentialID)
		if err != nil {
			return err
		}
		if old.OwnerID != by.ID {
			if err := s.authz.RequireIn(ctx, tx, by, rbac.CredentialsAssignOwner); err != nil {
				return err
			}
		}
		if old.RotatedTo != "" {
			return &store.Error{
				Kind: store.ErrConflict, Code: CodeAlreadyRotated, Field: "id",
				Msg: "the credential was rotated already; rotate its successor, " + old.RotatedTo,
			}
		}
		acct, err := tx.Account(ctx, old.AccountID)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		until, err := overlapEnd(acct.CredentialPolicy, now, overlapUntil)
		if err != nil {
			return err
		}
		if old.Kind == store.AccessToken {
			scopes, err := s.parseScopes(old.Kind, old.Scopes)
			if err != nil {
				return fmt.Errorf("credential: the scopes of %s: %w", old.ID, err)
			}
			if err := s.checkScopesHeld(ctx, tx, by, scopes); err != nil {
				return err
			}
		}
		next, err := s.successor(acct.CredentialPolicy, old, now)
		if err != nil {
			return err
		}
		if succ.Token, err = NewToken(next.Kind, next.ID, s.rand); err != nil {
			return err
		}
		next.SecretHash = s.hasher.HashHex(succ.Token.Token())
		if err := tx.PutCredential(ctx, next); err != nil {
			return err
		}
		old.RotatedTo = next.ID
		if old.ExpiresAt.IsZero() || until.Before(old.ExpiresAt) {
			old.ExpiresAt = until
		}
		if err := tx.PutCredential(ctx, old); err != nil {
			return err
		}
		created, updated, _ := identity.CredentialEventTypes(old.Kind)
		if err := s.rec.Record(ctx, tx, acct.ID, created, by.Audit(), objectOf(next)); err != nil {
			return err
		}
		succ.Credential, pred = fromStore(next), fromStore(old)
		return s.rec.Record(ctx, tx, acct.ID, updated, by.Audit(), objectOf(old))
	})
	if err != nil {
		return Issued{}, Credential{}, err
	}
	return succ, pred, nil
}

// overlapEnd checks when a rotated credential should stop, asked for overlapUntil (zero: now)
// at now under policy p.
func overlapEnd(p store.CredentialPolicy, now, overlapUntil time.Time) (time.Time, error) {
	if overlapUntil.IsZero() {
		return now, nil
	}
	if overlapUntil.Before(now) {
		return time.Time{}, store.Invalid("overlap_until", store.CodeOutOfRange, 0, "must not be in the past")
	}
	if max := maxRotationOverlap(p); overlapUntil.Sub(now) > max {
		return time.Time{}, &store.Error{
			Kind: store.ErrInvalid, Code: CodeOverlapExceedsPolicy, Field: "overlap_until", Limit: seconds(max),
			Msg: fmt.Sprintf("a rotated credential may stay valid for %s at most", max),
		}
	}
	return overlapUntil, nil
}

// successor returns the credential that succeeds old, without its secret: a new ID, the
// same settings, and a lifetime as long as old's was made, within the policy.
func (s *Service) successor(p store.CredentialPolicy, old store.Credential, now time.Time) (store.Credential, error) {
	prefix, err := idPrefix(old.Kind)
	if err != nil {
		return store.Credential{}, err
	}
	id, err := s.ids.NewIn(prefix, old.AccountID)
	if err != nil {
		return store.Credential{}, err
	}
	var expires time.Time
	if !old.ExpiresAt.IsZero() {
		expires = now.Add(old.ExpiresAt.Sub(old.CreatedAt))
	}
	if max := p.MaxLifetime(old.Kind); max > 0 && (expires.IsZero() || expires.Sub(now) > max) {
		expires = now.Add(max)
	}
	return store.Credential{
		ID: id, AccountID: old.AccountID, Kind: old.Kind, OwnerID: old.OwnerID,
		Description: old.Description, Metadata: old.Metadata, ACL: slices.Clone(old.ACL),
		Scopes: slices.Clone(old.Scopes), AllowedIPs: slices.Clone(old.AllowedIPs),
		RotatedFrom: old.ID, ExpiresAt: expires, CreatedAt: now,
	}, nil
}

// RevokeByToken revokes (deletes) the credential of token on proof of possession alone: no
// principal, no permission, only the token, valid or expired, whose owner may be inactive.
// It is what a self-revoke endpoint calls with a token found where it should not be. The
// *_deleted event names the credential's owner acting with that credential. A token that
// does not parse is an error matching store.ErrInvalid (its ParseToken code); one that is a
// test token, names no credential or holds another secret is store.ErrUnauthenticated, code
// CodeUnknown, alike, so that the call tells nothing about credentials the caller does not
// hold. It returns the revoked credential.
func (s *Service) RevokeByToken(ctx context.Context, token string) (Credential, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return Credential{}, err
	}
	unknown := store.NewError(store.ErrUnauthenticated, CodeUnknown, "the token is not a live credential's")
	if IsTestToken(tok) {
		return Credential{}, unknown
	}
	var out Credential
	err = s.st.Update(ctx, func(tx store.Tx) error {
		c, owner, err := tx.CredentialAuth(ctx, tok.CredentialID())
		if errors.Is(err, store.ErrNotFound) {
			return unknown
		}
		if err != nil {
			return err
		}
		if !possesses(s.hasher, tok, c) {
			return unknown
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		out = fromStore(c)
		by := store.Principal{ID: owner.ID, Subject: owner.Subject, Source: string(identity.SourceAPI), CredentialID: c.ID}
		_, _, deleted := identity.CredentialEventTypes(c.Kind)
		return s.rec.Record(ctx, tx, c.AccountID, deleted, by, objectOf(c))
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}
