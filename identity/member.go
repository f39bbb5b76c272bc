package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// CreateUser creates a user with a normalised, globally unique email. Users belong to no
// account, so creating one records no audit event; joining an account does
// (member_created). A taken email fails with an error matching store.ErrConflict.
func (d *Directory) CreateUser(ctx context.Context, email, name string) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	if err := CheckName("name", name, false); err != nil {
		return store.User{}, err
	}
	uid, err := d.ids.New(id.User)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: uid, Email: email, Name: name, CreatedAt: d.now()}
	err = d.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.UserByEmail(ctx, email); err == nil {
			return &store.ConflictError{Kind: store.KindUser, Index: "email"}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.PutUser(ctx, u)
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// User returns a user.
func (d *Directory) User(ctx context.Context, userID string) (store.User, error) {
	if err := checkID("user_id", userID, id.User); err != nil {
		return store.User{}, err
	}
	var u store.User
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		u, err = r.User(ctx, userID)
		return err
	})
	return u, err
}

// UserByEmail returns the user with an email (normalised before the lookup).
func (d *Directory) UserByEmail(ctx context.Context, email string) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	err = d.st.View(ctx, func(r store.Reader) error {
		var err error
		u, err = r.UserByEmail(ctx, email)
		return err
	})
	return u, err
}

// Memberships lists every account a user is a member of, in no particular order.
func (d *Directory) Memberships(ctx context.Context, userID string) ([]store.Membership, error) {
	if err := checkID("user_id", userID, id.User); err != nil {
		return nil, err
	}
	var ms []store.Membership
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		ms, err = r.MembershipsByUser(ctx, userID)
		return err
	})
	return ms, err
}

// Member returns a user's membership in an account.
func (d *Directory) Member(ctx context.Context, accountID, userID string) (store.Membership, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Membership{}, err
	}
	if err := checkID("user_id", userID, id.User); err != nil {
		return store.Membership{}, err
	}
	var m store.Membership
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		m, err = r.Membership(ctx, accountID, userID)
		return err
	})
	return m, err
}

// Members lists an account's memberships by descending user ID; p.BeforeID is a user ID.
func (d *Directory) Members(ctx context.Context, accountID string, p store.Page) ([]store.Membership, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return nil, err
	}
	if err := checkPage(p, id.User); err != nil {
		return nil, err
	}
	var ms []store.Membership
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		ms, err = r.Memberships(ctx, accountID, p)
		return err
	})
	return ms, err
}

// AddMember makes an existing user a member of an account directly, without an
// invitation, with roles: nil (omitted) means the Guard's defaults, and a non-nil empty list
// is refused with a *ValidationError on "roles". It takes a seat. The Guard decides whether
// by may grant those roles.
func (d *Directory) AddMember(ctx context.Context, by Principal, accountID, userID string, roles []string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, accountID, userID); err != nil {
		return store.Membership{}, err
	}
	if err := checkRolesOrOmitted(roles); err != nil {
		return store.Membership{}, err
	}
	return d.join(ctx, accountID, userID, roles, &by, "")
}

// Provision makes a user a member on the authority of the account's identity provider (SSO
// just-in-time provisioning, SCIM): the Guard checks the roles but no principal's
// permission is needed. roles are the identity provider's default roles, where empty (nil or
// not) means the Guard's defaults. The event is attributed to the user, with source src.
// Package sso calls it.
func (d *Directory) Provision(ctx context.Context, accountID, userID string, roles []string, src Source) (store.Membership, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Membership{}, err
	}
	if err := checkID("user_id", userID, id.User); err != nil {
		return store.Membership{}, err
	}
	if len(roles) == 0 {
		roles = nil // an IdP without default roles: the Guard's defaults
	}
	return d.join(ctx, accountID, userID, roles, nil, src)
}

func (d *Directory) join(ctx context.Context, accountID, userID string, roles []string, by *Principal, src Source) (store.Membership, error) {
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return fmt.Errorf("identity: user %s: %w", userID, err)
		}
		if _, err := tx.Membership(ctx, accountID, userID); err == nil {
			return ErrAlreadyMember
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		granted, err := d.guard.MemberRoles(ctx, tx, acct, roles)
		if err != nil {
			return err
		}
		actor := Principal{ID: u.ID, Kind: KindUser, AccountID: accountID, Subject: u.Email, Source: src}
		if by != nil {
			actor = *by
			if err := d.guard.Permit(ctx, tx, Change{Op: OpAddMember, By: actor, Account: acct, Roles: granted}); err != nil {
				return err
			}
		}
		now := d.now()
		// A pending invitation for the same email already holds a seat: it is consumed.
		seats := 1
		if inv, err := tx.InvitationByEmail(ctx, accountID, u.Email); err == nil {
			if now.Before(inv.ExpiresAt) {
				seats = 0
			}
			if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
				return err
			}
			if err := d.rec.Record(ctx, tx, accountID, audit.InvitationDeleted, actor.Audit(), withoutToken(inv)); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := takeSeats(ctx, tx, acct, now, seats); err != nil {
			return err
		}
		m = store.Membership{AccountID: accountID, UserID: userID, Roles: granted, Status: store.MemberActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutMembership(ctx, m); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.MemberCreated, actor.Audit(), m)
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// SetMemberRoles replaces a member's roles. roles must name at least one role: an empty
// (or nil) list is a *ValidationError on "roles", never the Guard's defaults; to take a
// member's access away, disable or remove the member. The Guard decides whether by may grant
// them (and change this member at all); demoting the last active administrator fails with
// ErrLastAdministrator.
func (d *Directory) SetMemberRoles(ctx context.Context, by Principal, accountID, userID string, roles []string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, accountID, userID); err != nil {
		return store.Membership{}, err
	}
	if len(roles) == 0 {
		return store.Membership{}, &ValidationError{Field: "roles", Reason: "at least one role is required; to take a member's access away, disable or remove the member"}
	}
	return d.changeMember(ctx, by, accountID, userID, OpSetRoles, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
		granted, err := d.guard.MemberRoles(ctx, tx, acct, roles)
		if err != nil {
			return false, err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpSetRoles, By: by, Account: acct, Member: m, Roles: granted}); err != nil {
			return false, err
		}
		if slices.Equal(m.Roles, granted) {
			return false, nil
		}
		if m.Status == store.MemberActive && IsAdministrator(m.Roles) && !IsAdministrator(granted) {
			if err := keepAnAdministrator(ctx, tx, accountID, userID); err != nil {
				return false, err
			}
		}
		m.Roles = granted
		return true, nil
	})
}

// DisableMember disables a member: it stays in the account and keeps its credentials, but
// cannot use them (store.OwnerState reports it inactive) nor act (rbac denies it), and it
// frees its seat. Disabling the last active administrator fails with ErrLastAdministrator.
func (d *Directory) DisableMember(ctx context.Context, by Principal, accountID, userID string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, accountID, userID); err != nil {
		return store.Membership{}, err
	}
	return d.changeMember(ctx, by, accountID, userID, OpDisableMember, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
		if err := d.guard.Permit(ctx, tx, Change{Op: OpDisableMember, By: by, Account: acct, Member: m}); err != nil {
			return false, err
		}
		if m.Status == store.MemberDisabled {
			return false, nil
		}
		if IsAdministrator(m.Roles) {
			if err := keepAnAdministrator(ctx, tx, accountID, userID); err != nil {
				return false, err
			}
		}
		m.Status = store.MemberDisabled
		return true, nil
	})
}

// EnableMember re-enables a disabled member, restoring its credentials. It takes a seat
// again, so it fails with a *SeatLimitError when none is free.
func (d *Directory) EnableMember(ctx context.Context, by Principal, accountID, userID string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, accountID, userID); err != nil {
		return store.Membership{}, err
	}
	return d.changeMember(ctx, by, accountID, userID, OpEnableMember, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
		if err := d.guard.Permit(ctx, tx, Change{Op: OpEnableMember, By: by, Account: acct, Member: m}); err != nil {
			return false, err
		}
		if m.Status == store.MemberActive {
			return false, nil
		}
		if err := takeSeats(ctx, tx, acct, d.now(), 1); err != nil {
			return false, err
		}
		m.Status = store.MemberActive
		return true, nil
	})
}

// changeMember loads a membership, lets change modify it, and writes it with a
// member_updated event if change reports a modification.
func (d *Directory) changeMember(ctx context.Context, by Principal, accountID, userID string, op Op, change func(store.Tx, store.Account, *store.Membership) (bool, error)) (store.Membership, error) {
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		if m, err = tx.Membership(ctx, accountID, userID); err != nil {
			return fmt.Errorf("identity: %s: member %s: %w", op, userID, err)
		}
		changed, err := change(tx, acct, &m)
		if err != nil || !changed {
			return err
		}
		m.UpdatedAt = d.now()
		if err := tx.PutMembership(ctx, m); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.MemberUpdated, by.Audit(), m)
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// RemoveMember removes a user from an account and, in the same transaction, revokes and
// deletes every credential the user owns in that account, recording a *_deleted event for
// each credential and a member_deleted event. The user and its other
// memberships remain. Removing the last active administrator fails with
// ErrLastAdministrator.
func (d *Directory) RemoveMember(ctx context.Context, by Principal, accountID, userID string) error {
	if err := d.checkMemberArgs(by, accountID, userID); err != nil {
		return err
	}
	return d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		m, err := tx.Membership(ctx, accountID, userID)
		if err != nil {
			return fmt.Errorf("identity: remove member %s: %w", userID, err)
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpRemoveMember, By: by, Account: acct, Member: &m}); err != nil {
			return err
		}
		if m.Status == store.MemberActive && IsAdministrator(m.Roles) {
			if err := keepAnAdministrator(ctx, tx, accountID, userID); err != nil {
				return err
			}
		}
		if err := d.rec.RecordOwnerCredentialsDeleted(ctx, tx, accountID, userID, by.Audit()); err != nil {
			return err
		}
		if err := tx.DeleteMembership(ctx, accountID, userID); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.MemberDeleted, by.Audit(), m)
	})
}

// checkRolesOrOmitted refuses a non-nil empty role list where nil means the defaults.
func checkRolesOrOmitted(roles []string) error {
	if roles != nil && len(roles) == 0 {
		return &ValidationError{Field: "roles", Reason: "must name at least one role; omit roles for the default roles"}
	}
	return nil
}

func (d *Directory) checkMemberArgs(by Principal, accountID, userID string) error {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return err
	}
	if err := checkID("user_id", userID, id.User); err != nil {
		return err
	}
	return by.Validate(accountID)
}

// keepAnAdministrator returns ErrLastAdministrator unless an active administrator other
// than userID remains in the account.
func keepAnAdministrator(ctx context.Context, r store.Reader, accountID, userID string) error {
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		ms, err := r.Memberships(ctx, accountID, p)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.UserID != userID && m.Status == store.MemberActive && IsAdministrator(m.Roles) {
				return nil
			}
		}
		if len(ms) < p.Limit {
			return ErrLastAdministrator
		}
		p.BeforeID = ms[len(ms)-1].UserID
	}
}
