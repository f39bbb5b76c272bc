package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/store"
)

// Invited is an invitation just created, with its acceptance token: the only copy, which
// redacts itself when printed, logged or marshalled. Deliver Token.Reveal() to the invited
// address only (by email): whoever holds it can accept the invitation. The embedded
// Invitation's TokenHash is empty; the hash stays in the store.
type Invited struct {
	store.Invitation
	Token InvitationToken `json:"token"`
}

// Invite invites an email address into by's account with preset roles, valid for the
// Directory's invitation TTL. roles nil (omitted) means the Guard's default roles; a non-nil
// empty list is refused (store.ErrInvalid on "roles": defaults are never a silent stand-in
// for "no roles"). A pending invitation takes a seat: one that would exceed the plan's seats
// fails with store.ErrLimitExceeded (code CodeSeatLimit). The Guard decides whether by may
// invite with those roles. An expired invitation for the same email is replaced; an
// unexpired one is a conflict (code CodeAlreadyInvited), and so is a member's email (code
// CodeAlreadyMember).
//
// The invitation is accepted either by the invited user, authenticated
// (AcceptInvitation), or with the returned token by whoever receives it at the invited
// address (AcceptInvitationToken), which also serves a person who has no user yet. Only the
// token's SHA-256 is stored.
func (d *Directory) Invite(ctx context.Context, by Principal, email string, roles []string) (Invited, error) {
	if err := by.Validate(); err != nil {
		return Invited{}, err
	}
	email, err := NormalizeEmail(email)
	if err != nil {
		return Invited{}, err
	}
	if err := checkRolesOrOmitted(roles); err != nil {
		return Invited{}, err
	}
	invID, err := d.ids.NewIn(id.Invitation, by.AccountID)
	if err != nil {
		return Invited{}, err
	}
	tok, hash, err := newInvitationToken(d.rand, invID)
	if err != nil {
		return Invited{}, err
	}
	var inv store.Invitation
	err = d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
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
			if err := members.CheckNotMember(ctx, tx, acct.ID, u.ID); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := d.now()
		if old, err := tx.InvitationByEmail(ctx, acct.ID, email); err == nil {
			if now.Before(old.ExpiresAt) {
				return store.NewError(store.ErrConflict, CodeAlreadyInvited, "an unexpired invitation for this email exists in the account")
			}
			if err := tx.DeleteInvitation(ctx, old.ID); err != nil {
				return err
			}
			if err := d.record(ctx, tx, acct.ID, EventInvitationDeleted, by, InvitationObjectOf(old)); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := members.TakeSeats(ctx, tx, acct, now, 1); err != nil {
			return err
		}
		inv = store.Invitation{
			ID: invID, AccountID: acct.ID, Email: email, Roles: granted,
			InvitedBy: by.ID, ExpiresAt: now.Add(d.ttl), CreatedAt: now, TokenHash: hash,
		}
		if err := tx.PutInvitation(ctx, inv); err != nil {
			return err
		}
		return d.record(ctx, tx, acct.ID, EventInvitationCreated, by, InvitationObjectOf(inv))
	})
	if err != nil {
		return Invited{}, err
	}
	return Invited{Invitation: withoutToken(inv), Token: tok}, nil
}

// withoutToken returns inv without its token hash, as every invitation leaving the
// Directory is.
func withoutToken(inv store.Invitation) store.Invitation {
	inv.TokenHash = ""
	return inv
}

// Invitation returns an invitation of by's account; by needs OpReadMembers (rbac:
// members:read).
func (d *Directory) Invitation(ctx context.Context, by Principal, invitationID string) (store.Invitation, error) {
	if err := by.Validate(); err != nil {
		return store.Invitation{}, err
	}
	if err := id.CheckArg("invitation_id", invitationID, id.Invitation); err != nil {
		return store.Invitation{}, err
	}
	var inv store.Invitation
	err := d.st.View(ctx, func(r store.Reader) error {
		if _, err := d.permit(ctx, r, by, OpReadMembers); err != nil {
			return err
		}
		var err error
		inv, err = invitationIn(ctx, r, by.AccountID, invitationID)
		return err
	})
	if err != nil {
		return store.Invitation{}, err
	}
	return withoutToken(inv), nil
}

// Invitations lists the invitations of by's account, newest first, expired ones included;
// by needs OpReadMembers (rbac: members:read).
func (d *Directory) Invitations(ctx context.Context, by Principal, p store.Page) ([]store.Invitation, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.Invitation); err != nil {
		return nil, err
	}
	var invs []store.Invitation
	err := d.st.View(ctx, func(r store.Reader) error {
		if _, err := d.permit(ctx, r, by, OpReadMembers); err != nil {
			return err
		}
		var err error
		invs, err = r.Invitations(ctx, by.AccountID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range invs {
		invs[i] = withoutToken(invs[i])
	}
	return invs, nil
}

// RevokeInvitation deletes a pending invitation of by's account, freeing its seat.
func (d *Directory) RevokeInvitation(ctx context.Context, by Principal, invitationID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	if err := id.CheckArg("invitation_id", invitationID, id.Invitation); err != nil {
		return err
	}
	return d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		inv, err := invitationIn(ctx, tx, acct.ID, invitationID)
		if err != nil {
			return err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpRevokeInvitation, By: by, Account: acct}); err != nil {
			return err
		}
		if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
			return err
		}
		return d.record(ctx, tx, acct.ID, EventInvitationDeleted, by, InvitationObjectOf(inv))
	})
}

// AcceptInvitation makes by, the invited user, a member with the invitation's roles and
// deletes the invitation, whose seat the member takes over. Nobody accepts on another's
// behalf: by must be a user principal built from authentication (PrincipalFor for a
// credential or session of any account the user belongs to, or an SSO login into the
// invitation's account; by.AccountID need not be the invitation's) whose user has the
// invited email. For any other caller, including a bot user, the invitation reads as not
// found (an error matching store.ErrNotFound), so that a stranger learns nothing about it.
// The invitee is told it expired (code CodeInvitationExpired) or that it is already a member
// (code CodeAlreadyMember). The invitation_accepted and member_created events are attributed
// to by, with its source and credential.
func (d *Directory) AcceptInvitation(ctx context.Context, by Principal, invitationID string) (store.Membership, error) {
	if err := by.Validate(); err != nil {
		return store.Membership{}, err
	}
	if err := id.CheckArg("invitation_id", invitationID, id.Invitation); err != nil {
		return store.Membership{}, err
	}
	notFound := fmt.Errorf("identity: invitation %s: %w", invitationID, store.ErrNotFound)
	if by.Kind != KindUser {
		return store.Membership{}, notFound
	}
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		inv, err := tx.Invitation(ctx, invitationID)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		} else if err != nil {
			return err
		}
		u, err := tx.User(ctx, by.ID)
		if errors.Is(err, store.ErrNotFound) || err == nil && u.Email != inv.Email {
			return notFound
		} else if err != nil {
			return err
		}
		now := d.now()
		if err := members.CheckAcceptable(ctx, tx, inv, u, now); err != nil {
			return err
		}
		m, err = members.Accept(ctx, tx, d.ev, inv, u, by.Audit(), now)
		return err
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// AcceptInvitationToken accepts an invitation with the token Invite returned, proof that the
// caller controls the invited address: it makes the user with the invited email a member
// with the invitation's roles, creating that user (with name, which CheckName must accept;
// empty is fine) if there is none, and deletes the invitation. An existing user keeps its
// name. src is how the token was presented (normally SourceDashboard); the events are
// attributed to the user, with no credential. It is a sign-in call: the token is the
// authority, so no principal acts yet.
//
// Everything is checked before anything is written, and the user, the membership, the
// invitation's deletion and the events are one store.Update: a refused acceptance (malformed
// or wrong token, unknown invitation, expired, already a member) stores nothing. A malformed
// token is an error matching store.ErrInvalid for field "token"; a wrong token or an unknown
// invitation matches store.ErrNotFound; then the codes CodeInvitationExpired and
// CodeAlreadyMember. A new user's ID carries the invitation account's shard tag, so that the
// whole write stays in one bucket of a sharded store.
func (d *Directory) AcceptInvitationToken(ctx context.Context, token, name string, src Source) (store.Membership, error) {
	invID, hash, err := parseInvitationToken(token)
	if err != nil {
		return store.Membership{}, err
	}
	if err := CheckName("name", name, false); err != nil {
		return store.Membership{}, err
	}
	if err := checkSource("source", src); err != nil {
		return store.Membership{}, err
	}
	notFound := fmt.Errorf("identity: invitation %s: %w", invID, store.ErrNotFound)
	var m store.Membership
	err = d.st.Update(ctx, func(tx store.Tx) error {
		inv, err := tx.Invitation(ctx, invID)
		if errors.Is(err, store.ErrNotFound) || err == nil && !tokenMatches(inv.TokenHash, hash) {
			return notFound
		} else if err != nil {
			return err
		}
		u, err := tx.UserByEmail(ctx, inv.Email)
		isNew := errors.Is(err, store.ErrNotFound)
		if err != nil && !isNew {
			return err
		}
		now := d.now()
		if isNew {
			uid, err := d.ids.NewIn(id.User, inv.AccountID)
			if err != nil {
				return err
			}
			u = store.User{ID: uid, Email: inv.Email, Name: name, CreatedAt: now}
		}
		if err := members.CheckAcceptable(ctx, tx, inv, u, now); err != nil {
			return err
		}
		if isNew {
			if err := tx.PutUser(ctx, u); err != nil {
				return err
			}
		}
		by := Principal{ID: u.ID, Kind: KindUser, AccountID: inv.AccountID, Subject: u.Email, Source: src}
		m, err = members.Accept(ctx, tx, d.ev, inv, u, by.Audit(), now)
		return err
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
