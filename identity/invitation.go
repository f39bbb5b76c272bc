package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Invite invites an email address into an account with preset roles, valid for the
// Directory's invitation TTL. roles nil (omitted) means the Guard's default roles; a non-nil
// empty list is refused with a *ValidationError on "roles" (defaults are never a silent
// stand-in for "no roles"). A pending invitation takes a seat:
// one that would exceed the plan's seats fails with a *SeatLimitError. The Guard decides
// whether by may invite with those roles. An expired invitation for the same email is
// replaced; an unexpired one fails with ErrAlreadyInvited, and a member's email with
// ErrAlreadyMember.
func (d *Directory) Invite(ctx context.Context, by Principal, accountID, email string, roles []string) (store.Invitation, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Invitation{}, err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.Invitation{}, err
	}
	if err := checkRolesOrOmitted(roles); err != nil {
		return store.Invitation{}, err
	}
	if err := by.Validate(accountID); err != nil {
		return store.Invitation{}, err
	}
	invID, err := d.ids.NewIn(id.Invitation, accountID)
	if err != nil {
		return store.Invitation{}, err
	}
	var inv store.Invitation
	err = d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		granted, err := d.guard.MemberRoles(ctx, tx, acct, roles)
		if err != nil {
			return err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpInvite, By: by, Account: acct, Roles: granted}); err != nil {
			return err
		}
		if u, err := tx.UserByEmail(ctx, email); err == nil {
			if _, err := tx.Membership(ctx, accountID, u.ID); err == nil {
				return ErrAlreadyMember
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := d.now()
		if old, err := tx.InvitationByEmail(ctx, accountID, email); err == nil {
			if now.Before(old.ExpiresAt) {
				return ErrAlreadyInvited
			}
			if err := tx.DeleteInvitation(ctx, old.ID); err != nil {
				return err
			}
			if err := d.rec.Record(ctx, tx, accountID, audit.InvitationDeleted, by.Audit(), old); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := takeSeats(ctx, tx, acct, now, 1); err != nil {
			return err
		}
		inv = store.Invitation{
			ID: invID, AccountID: accountID, Email: email, Roles: granted,
			InvitedBy: by.ID, ExpiresAt: now.Add(d.ttl), CreatedAt: now,
		}
		if err := tx.PutInvitation(ctx, inv); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.InvitationCreated, by.Audit(), inv)
	})
	if err != nil {
		return store.Invitation{}, err
	}
	return inv, nil
}

// Invitation returns an invitation of an account.
func (d *Directory) Invitation(ctx context.Context, accountID, invitationID string) (store.Invitation, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Invitation{}, err
	}
	if err := checkID("invitation_id", invitationID, id.Invitation); err != nil {
		return store.Invitation{}, err
	}
	var inv store.Invitation
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		inv, err = invitationIn(ctx, r, accountID, invitationID)
		return err
	})
	return inv, err
}

// Invitations lists an account's invitations, newest first, expired ones included.
func (d *Directory) Invitations(ctx context.Context, accountID string, p store.Page) ([]store.Invitation, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return nil, err
	}
	if err := checkPage(p, id.Invitation); err != nil {
		return nil, err
	}
	var invs []store.Invitation
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		invs, err = r.Invitations(ctx, accountID, p)
		return err
	})
	return invs, err
}

// RevokeInvitation deletes a pending invitation, freeing its seat.
func (d *Directory) RevokeInvitation(ctx context.Context, by Principal, accountID, invitationID string) error {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return err
	}
	if err := checkID("invitation_id", invitationID, id.Invitation); err != nil {
		return err
	}
	if err := by.Validate(accountID); err != nil {
		return err
	}
	return d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		inv, err := invitationIn(ctx, tx, accountID, invitationID)
		if err != nil {
			return err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpRevokeInvitation, By: by, Account: acct}); err != nil {
			return err
		}
		if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.InvitationDeleted, by.Audit(), inv)
	})
}

// AcceptInvitation makes the user userID a member with the invitation's roles and deletes
// the invitation, whose seat the member takes over. The user's email must be the invited
// one (ErrEmailMismatch) and the invitation unexpired (ErrInvitationExpired). src is how
// the user accepted, for the events (normally SourceDashboard).
func (d *Directory) AcceptInvitation(ctx context.Context, invitationID, userID string, src Source) (store.Membership, error) {
	if err := checkID("invitation_id", invitationID, id.Invitation); err != nil {
		return store.Membership{}, err
	}
	if err := checkID("user_id", userID, id.User); err != nil {
		return store.Membership{}, err
	}
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		inv, err := tx.Invitation(ctx, invitationID)
		if err != nil {
			return fmt.Errorf("identity: invitation %s: %w", invitationID, err)
		}
		now := d.now()
		if !now.Before(inv.ExpiresAt) {
			return ErrInvitationExpired
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return fmt.Errorf("identity: user %s: %w", userID, err)
		}
		if u.Email != inv.Email {
			return ErrEmailMismatch
		}
		if _, err := tx.Membership(ctx, inv.AccountID, userID); err == nil {
			return ErrAlreadyMember
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		m = store.Membership{
			AccountID: inv.AccountID, UserID: userID, Roles: inv.Roles,
			Status: store.MemberActive, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.PutMembership(ctx, m); err != nil {
			return err
		}
		if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
			return err
		}
		by := Principal{ID: u.ID, Kind: KindUser, AccountID: inv.AccountID, Subject: u.Email, Source: src}
		if err := d.rec.Record(ctx, tx, inv.AccountID, audit.InvitationAccepted, by.Audit(), inv); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, inv.AccountID, audit.MemberCreated, by.Audit(), m)
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

func invitationIn(ctx context.Context, r store.Reader, accountID, invitationID string) (store.Invitation, error) {
	inv, err := r.Invitation(ctx, invitationID)
	if err == nil && inv.AccountID != accountID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Invitation{}, fmt.Errorf("identity: invitation %s: %w", invitationID, err)
	}
	return inv, nil
}
