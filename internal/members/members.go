package members

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/store"
)

// The codes of the errors this package returns: the values of identity's CodeSeatLimit,
// CodeAlreadyMember and CodeInvitationExpired, which a test of package identity keeps equal.
const (
	CodeSeatLimit         = "seat_limit"
	CodeAlreadyMember     = "already_member"
	CodeInvitationExpired = "invitation_expired"
)

// Events is how member changes are recorded: the Recorder, the event types and the objects,
// all of which package identity defines (R is identity.Resource).
type Events[R ~string] struct {
	Rec                                                  audit.Recorder[R]
	MemberCreated, InvitationAccepted, InvitationDeleted store.EventType
	Member                                               func(store.Membership, store.User) audit.Object[R]
	Invitation                                           func(store.Invitation) audit.Object[R]
}

// Seats counts an account's taken seats at now: active members and pending, unexpired
// invitations.
func Seats(ctx context.Context, r store.Reader, a store.Account, now time.Time) (members, invitations int, err error) {
	if members, err = r.CountMemberships(ctx, a.ID, store.MemberActive); err != nil {
		return 0, 0, err
	}
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		invs, err := r.Invitations(ctx, a.ID, p)
		if err != nil {
			return 0, 0, err
		}
		for _, inv := range invs {
			if now.Before(inv.ExpiresAt) {
				invitations++
			}
		}
		if len(invs) < p.Limit {
			return members, invitations, nil
		}
		p.BeforeID = invs[len(invs)-1].ID
	}
}

// TakeSeats returns an error matching store.ErrLimitExceeded (code CodeSeatLimit, Limit the
// account's seats) if n more seats would exceed the account's limit.
func TakeSeats(ctx context.Context, r store.Reader, a store.Account, now time.Time, n int) error {
	if a.Seats == 0 || n <= 0 {
		return nil
	}
	m, i, err := Seats(ctx, r, a, now)
	if err != nil {
		return err
	}
	if used := m + i; used+n > a.Seats {
		return &store.Error{
			Kind: store.ErrLimitExceeded, Code: CodeSeatLimit, Limit: a.Seats,
			Msg: fmt.Sprintf("seat limit of %d reached: %d in use by active members and pending invitations; add seats or change plan", a.Seats, used),
		}
	}
	return nil
}

// AlreadyMember is the error of a user who is already a member of the account.
func AlreadyMember() error {
	return store.NewError(store.ErrConflict, CodeAlreadyMember, "already a member of the account")
}

// CheckNotMember returns AlreadyMember() if userID has a membership in accountID.
func CheckNotMember(ctx context.Context, r store.Reader, accountID, userID string) error {
	_, err := r.Membership(ctx, accountID, userID)
	switch {
	case err == nil:
		return AlreadyMember()
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// Add makes user u an active member of acct with roles, which the caller has checked
// (identity's Guard granted them), attributed to by. A pending invitation for u's email
// already holds a seat: it is consumed (deleted, with an invitation_deleted event);
// otherwise the member takes a seat. It fails with AlreadyMember() for a member, and with
// TakeSeats' error when no seat is free.
func Add[R ~string](ctx context.Context, tx store.Tx, ev Events[R], acct store.Account, u store.User, roles []string, by store.Principal, now time.Time) (store.Membership, error) {
	if err := CheckNotMember(ctx, tx, acct.ID, u.ID); err != nil {
		return store.Membership{}, err
	}
	seats := 1
	inv, err := tx.InvitationByEmail(ctx, acct.ID, u.Email)
	switch {
	case err == nil:
		if now.Before(inv.ExpiresAt) {
			seats = 0
		}
		if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
			return store.Membership{}, err
		}
		if err := ev.Rec.Record(ctx, tx, acct.ID, ev.InvitationDeleted, by, ev.Invitation(inv)); err != nil {
			return store.Membership{}, err
		}
	case !errors.Is(err, store.ErrNotFound):
		return store.Membership{}, err
	}
	if err := TakeSeats(ctx, tx, acct, now, seats); err != nil {
		return store.Membership{}, err
	}
	m := store.Membership{AccountID: acct.ID, UserID: u.ID, Roles: roles, Status: store.MemberActive, CreatedAt: now, UpdatedAt: now}
	if err := tx.PutMembership(ctx, m); err != nil {
		return store.Membership{}, err
	}
	return m, ev.Rec.Record(ctx, tx, acct.ID, ev.MemberCreated, by, ev.Member(m, u))
}

// CheckAcceptable returns an error if user u may not accept inv at now: the invitation
// expired (store.ErrConflict, code CodeInvitationExpired), or u is already a member.
func CheckAcceptable(ctx context.Context, r store.Reader, inv store.Invitation, u store.User, now time.Time) error {
	if !now.Before(inv.ExpiresAt) {
		return store.NewError(store.ErrConflict, CodeInvitationExpired, "the invitation expired; ask for a new one")
	}
	return CheckNotMember(ctx, r, inv.AccountID, u.ID)
}

// Accept makes user u a member with inv's roles and deletes inv, whose seat the member takes
// over, recording invitation_accepted and member_created as by's. The caller has checked
// CheckAcceptable in tx.
func Accept[R ~string](ctx context.Context, tx store.Tx, ev Events[R], inv store.Invitation, u store.User, by store.Principal, now time.Time) (store.Membership, error) {
	m := store.Membership{
		AccountID: inv.AccountID, UserID: u.ID, Roles: inv.Roles,
		Status: store.MemberActive, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.PutMembership(ctx, m); err != nil {
		return store.Membership{}, err
	}
	if err := tx.DeleteInvitation(ctx, inv.ID); err != nil {
		return store.Membership{}, err
	}
	if err := ev.Rec.Record(ctx, tx, inv.AccountID, ev.InvitationAccepted, by, ev.Invitation(inv)); err != nil {
		return store.Membership{}, err
	}
	if err := ev.Rec.Record(ctx, tx, inv.AccountID, ev.MemberCreated, by, ev.Member(m, u)); err != nil {
		return store.Membership{}, err
	}
	return m, nil
}
