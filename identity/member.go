package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/store"
)

// CreateUser creates a user with a normalised, globally unique email. It is a sign-up call:
// users belong to no account and nobody acts for them yet, so it checks no permission and
// records no audit event (joining an account does: member_created). A taken email fails with
// an error matching store.ErrConflict (code store.CodeAlreadyExists, Field "email").
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
			return &store.Error{Kind: store.ErrConflict, Code: store.CodeAlreadyExists, Field: "email", Msg: "a user with this email already exists"}
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

// User returns a user as by may read it: by itself (the self-read rule), or a member of by's
// account when by holds OpReadMembers (rbac: members:read). Any other user is not found.
func (d *Directory) User(ctx context.Context, by Principal, userID string) (store.User, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.User{}, err
	}
	var u store.User
	err := d.st.View(ctx, func(r store.Reader) error {
		if !isSelf(by, userID) {
			if _, err := d.permit(ctx, r, by, OpReadMembers); err != nil {
				return err
			}
			if _, err := r.Membership(ctx, by.AccountID, userID); err != nil {
				return fmt.Errorf("identity: user %s: %w", userID, err)
			}
		}
		var err error
		u, err = r.User(ctx, userID)
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// isSelf reports whether by is the user userID: the self-read rule lets a member read its
// own membership and user whatever its roles.
func isSelf(by Principal, userID string) bool { return by.Kind == KindUser && by.ID == userID }

// UserByEmail returns the user with an email (normalised before the lookup). It is a
// sign-in call, made before anyone acts: it checks no permission. Do not serve it to callers
// who could use it to learn who has a user.
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

// Memberships lists every account a user is a member of, in no particular order. It is a
// sign-in call (which accounts may the authenticated user enter?), made before the user acts
// in any account: it checks no permission.
func (d *Directory) Memberships(ctx context.Context, userID string) ([]store.Membership, error) {
	if err := id.CheckArg("user_id", userID, id.User); err != nil {
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

// Member returns a user's membership in by's account. by needs OpReadMembers (rbac:
// members:read), except to read its own membership: a member may always read its own
// membership (the self-read rule), disabled or not.
func (d *Directory) Member(ctx context.Context, by Principal, userID string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.Membership{}, err
	}
	var m store.Membership
	err := d.st.View(ctx, func(r store.Reader) error {
		if !isSelf(by, userID) {
			if _, err := d.permit(ctx, r, by, OpReadMembers); err != nil {
				return err
			}
		}
		var err error
		m, err = r.Membership(ctx, by.AccountID, userID)
		return err
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// Members lists the memberships of by's account by descending user ID; p.BeforeID is a user
// ID. by needs OpReadMembers (rbac: members:read).
func (d *Directory) Members(ctx context.Context, by Principal, p store.Page) ([]store.Membership, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.User); err != nil {
		return nil, err
	}
	var ms []store.Membership
	err := d.st.View(ctx, func(r store.Reader) error {
		if _, err := d.permit(ctx, r, by, OpReadMembers); err != nil {
			return err
		}
		var err error
		ms, err = r.Memberships(ctx, by.AccountID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// AddMember makes an existing user a member of by's account directly, without an
// invitation, with roles: nil (omitted) means the Guard's defaults, and a non-nil empty list
// is refused (store.ErrInvalid on "roles"). It takes a seat, or the seat of a pending
// invitation for the user's email, which it consumes. The Guard decides whether by may
// grant those roles. A member already is a conflict (code CodeAlreadyMember).
func (d *Directory) AddMember(ctx context.Context, by Principal, userID string, roles []string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.Membership{}, err
	}
	if err := checkRolesOrOmitted(roles); err != nil {
		return store.Membership{}, err
	}
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return fmt.Errorf("identity: user %s: %w", userID, err)
		}
		if err := members.CheckNotMember(ctx, tx, acct.ID, u.ID); err != nil {
			return err
		}
		granted, err := d.guard.MemberRoles(ctx, tx, acct, roles)
		if err != nil {
			return err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpAddMember, By: by, Account: acct, Roles: granted}); err != nil {
			return err
		}
		m, err = members.Add(ctx, tx, d.ev, acct, u, granted, by.Audit(), d.now())
		return err
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// SetMemberRoles replaces a member's roles. roles must name at least one role: an empty (or
// nil) list is refused (store.ErrInvalid on "roles"), never the Guard's defaults; to take a
// member's access away, disable or remove the member. The Guard decides whether by may grant
// them (and change this member at all); demoting the last active administrator is a conflict
// (code CodeLastAdministrator).
func (d *Directory) SetMemberRoles(ctx context.Context, by Principal, userID string, roles []string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.Membership{}, err
	}
	if len(roles) == 0 {
		return store.Membership{}, store.Invalid("roles", store.CodeRequired, 0, "at least one role is required; to take a member's access away, disable or remove the member")
	}
	return d.changeMember(ctx, by, userID, OpSetRoles, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
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
			if err := keepAnAdministrator(ctx, tx, acct.ID, userID); err != nil {
				return false, err
			}
		}
		m.Roles = granted
		return true, nil
	})
}

// DisableMember disables a member of by's account: it stays in the account and keeps its
// credentials, but cannot use them (the credential verifier sees its owner inactive) nor act
// (rbac denies it), and it frees its seat. Its dashboard sessions in the account end in the
// same transaction. Disabling the last active administrator is a
// conflict (code CodeLastAdministrator).
func (d *Directory) DisableMember(ctx context.Context, by Principal, userID string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.Membership{}, err
	}
	return d.changeMember(ctx, by, userID, OpDisableMember, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
		if err := d.guard.Permit(ctx, tx, Change{Op: OpDisableMember, By: by, Account: acct, Member: m}); err != nil {
			return false, err
		}
		if m.Status == store.MemberDisabled {
			return false, nil
		}
		if IsAdministrator(m.Roles) {
			if err := keepAnAdministrator(ctx, tx, acct.ID, userID); err != nil {
				return false, err
			}
		}
		if _, err := members.EndSessions(ctx, tx, acct.ID, userID); err != nil {
			return false, err
		}
		m.Status = store.MemberDisabled
		return true, nil
	})
}

// EnableMember re-enables a disabled member of by's account, restoring its credentials. It
// takes a seat again, so it fails with an error matching store.ErrLimitExceeded (code
// CodeSeatLimit) when none is free.
func (d *Directory) EnableMember(ctx context.Context, by Principal, userID string) (store.Membership, error) {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return store.Membership{}, err
	}
	return d.changeMember(ctx, by, userID, OpEnableMember, func(tx store.Tx, acct store.Account, m *store.Membership) (bool, error) {
		if err := d.guard.Permit(ctx, tx, Change{Op: OpEnableMember, By: by, Account: acct, Member: m}); err != nil {
			return false, err
		}
		if m.Status == store.MemberActive {
			return false, nil
		}
		if err := members.TakeSeats(ctx, tx, acct, d.now(), 1); err != nil {
			return false, err
		}
		m.Status = store.MemberActive
		return true, nil
	})
}

// changeMember loads a membership, lets change modify it, and writes it with a
// member_updated event if change reports a modification.
func (d *Directory) changeMember(ctx context.Context, by Principal, userID string, op Op, change func(store.Tx, store.Account, *store.Membership) (bool, error)) (store.Membership, error) {
	var m store.Membership
	err := d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		if m, err = tx.Membership(ctx, acct.ID, userID); err != nil {
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
		u, err := tx.User(ctx, userID)
		if err != nil {
			return fmt.Errorf("identity: member %s: %w", userID, err)
		}
		return d.record(ctx, tx, acct.ID, EventMemberUpdated, by, MemberObjectOf(m, u))
	})
	if err != nil {
		return store.Membership{}, err
	}
	return m, nil
}

// RemoveMember removes a user from by's account, recording a member_deleted event, and ends
// its dashboard sessions there in the same transaction. From that commit on, every credential the user owns in the account is gone for every read (the
// store keeps a store.Tombstone); credential's purger deletes them later, in batches,
// recording their *_deleted events attributed to by. The user and its other memberships
// remain. Removing the last active administrator is a conflict (code CodeLastAdministrator).
//
// With WithRevocationWait, it returns only that long after the commit; if ctx ends
// meanwhile, it returns ctx's error, and the removal stands.
func (d *Directory) RemoveMember(ctx context.Context, by Principal, userID string) error {
	if err := d.checkMemberArgs(by, userID); err != nil {
		return err
	}
	if err := d.removeMember(ctx, by, userID); err != nil {
		return err
	}
	if err := clock.Sleep(ctx, d.revoke); err != nil {
		return fmt.Errorf("identity: member %s removed; waiting out the revocation wait: %w", userID, err)
	}
	return nil
}

// removeMember is RemoveMember's transaction.
func (d *Directory) removeMember(ctx context.Context, by Principal, userID string) error {
	return d.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, by.AccountID)
		if err != nil {
			return err
		}
		m, err := tx.Membership(ctx, acct.ID, userID)
		if err != nil {
			return fmt.Errorf("identity: remove member %s: %w", userID, err)
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpRemoveMember, By: by, Account: acct, Member: &m}); err != nil {
			return err
		}
		if m.Status == store.MemberActive && IsAdministrator(m.Roles) {
			if err := keepAnAdministrator(ctx, tx, acct.ID, userID); err != nil {
				return err
			}
		}
		u, err := tx.User(ctx, userID)
		if err != nil {
			return fmt.Errorf("identity: member %s: %w", userID, err)
		}
		if _, err := members.EndSessions(ctx, tx, acct.ID, userID); err != nil {
			return err
		}
		if err := tx.DeleteMembership(ctx, acct.ID, userID, by.Audit()); err != nil {
			return err
		}
		return d.record(ctx, tx, acct.ID, EventMemberDeleted, by, MemberObjectOf(m, u))
	})
}

// checkRolesOrOmitted refuses a non-nil empty role list where nil means the defaults.
func checkRolesOrOmitted(roles []string) error {
	if roles != nil && len(roles) == 0 {
		return store.Invalid("roles", store.CodeRequired, 0, "must name at least one role; omit roles for the default roles")
	}
	return nil
}

func (d *Directory) checkMemberArgs(by Principal, userID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	return id.CheckArg("user_id", userID, id.User)
}

// keepAnAdministrator returns a conflict (code CodeLastAdministrator) unless an active
// administrator other than userID remains in the account.
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
			return store.NewError(store.ErrConflict, CodeLastAdministrator, "an account must keep at least one active administrator")
		}
		p.BeforeID = ms[len(ms)-1].UserID
	}
}
