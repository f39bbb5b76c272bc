package identity

import (
	"context"
	"fmt"

	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/store"
)

// CreateAccount creates an account on plan with the user founderID as its first member and
// administrator, and records account_created and member_created events attributed to the
// founder (source sdk). It is a bootstrap call: nobody acts in the account yet, so it checks
// no permission; call it from sign-up or provisioning code, never on a request's say-so
// alone. A plan outside the catalog is an error matching store.ErrInvalid, code
// CodeUnknownPlan.
func (d *Directory) CreateAccount(ctx context.Context, founderID, name, plan string) (store.Account, error) {
	return d.createAccount(ctx, "", founderID, name, plan)
}

// createAccount is CreateAccount with the account's key (empty: none).
func (d *Directory) createAccount(ctx context.Context, key, founderID, name, plan string) (store.Account, error) {
	if err := id.CheckArg("founder_id", founderID, id.User); err != nil {
		return store.Account{}, err
	}
	if err := CheckName("name", name, true); err != nil {
		return store.Account{}, err
	}
	p, ok := d.Catalog().Plan(plan)
	if !ok {
		return store.Account{}, unknownPlan()
	}
	acctID, err := d.ids.New(id.Account)
	if err != nil {
		return store.Account{}, err
	}
	var acct store.Account
	err = d.st.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(ctx, founderID)
		if err != nil {
			return fmt.Errorf("identity: founder %s: %w", founderID, err)
		}
		now := d.now()
		acct = store.Account{ID: acctID, Name: name, Key: key, Plan: p.Name, Seats: p.Seats, CreatedAt: now}
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		m := store.Membership{
			AccountID: acctID, UserID: u.ID, Roles: []string{RoleAdministrator},
			Status: store.MemberActive, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.PutMembership(ctx, m); err != nil {
			return err
		}
		by := Principal{ID: u.ID, Kind: KindUser, AccountID: acctID, Subject: u.Email, Source: SourceSDK}
		if err := d.record(ctx, tx, acctID, EventAccountCreated, by, AccountObjectOf(acct)); err != nil {
			return err
		}
		return d.record(ctx, tx, acctID, EventMemberCreated, by, MemberObjectOf(m, u))
	})
	if err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

// Account returns by's account. by needs the Guard's OpReadAccount (rbac: account:read).
func (d *Directory) Account(ctx context.Context, by Principal) (store.Account, error) {
	if err := by.Validate(); err != nil {
		return store.Account{}, err
	}
	var a store.Account
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		a, err = d.permit(ctx, r, by, OpReadAccount)
		return err
	})
	if err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// Plan returns the plan by's account is on; by needs OpReadAccount (rbac: account:read). An
// account whose stored plan left the catalog gives an error matching store.ErrInvalid, code
// CodeUnknownPlan.
func (d *Directory) Plan(ctx context.Context, by Principal) (Plan, error) {
	a, err := d.Account(ctx, by)
	if err != nil {
		return Plan{}, err
	}
	return d.Catalog().PlanOf(a)
}

// ChangePlan moves by's account to another plan of the catalog, taking its seat limit. A
// smaller limit does not remove anyone: it refuses new invitations until seats free up.
// The Guard decides who may (rbac: billing:manage). A plan outside the catalog is an error
// matching store.ErrInvalid, code CodeUnknownPlan.
func (d *Directory) ChangePlan(ctx context.Context, by Principal, plan string) (store.Account, error) {
	if err := by.Validate(); err != nil {
		return store.Account{}, err
	}
	p, ok := d.Catalog().Plan(plan)
	if !ok {
		return store.Account{}, unknownPlan()
	}
	var acct store.Account
	err := d.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if acct, err = d.permit(ctx, tx, by, OpChangePlan); err != nil {
			return err
		}
		acct.Plan, acct.Seats = p.Name, p.Seats
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return d.record(ctx, tx, acct.ID, EventAccountUpdated, by, AccountObjectOf(acct))
	})
	if err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

// Seats is an account's seat usage. Bot users never take a seat.
type Seats struct {
	Limit       int // 0: no limit
	Members     int // active members (disabled members free their seat)
	Invitations int // pending, unexpired invitations
}

// Used returns the seats taken: active members plus pending invitations.
func (s Seats) Used() int { return s.Members + s.Invitations }

// Seats returns the seat usage of by's account; by needs OpReadAccount (rbac: account:read).
func (d *Directory) Seats(ctx context.Context, by Principal) (Seats, error) {
	if err := by.Validate(); err != nil {
		return Seats{}, err
	}
	var s Seats
	err := d.st.View(ctx, func(r store.Reader) error {
		a, err := d.permit(ctx, r, by, OpReadAccount)
		if err != nil {
			return err
		}
		s.Limit = a.Seats
		s.Members, s.Invitations, err = members.Seats(ctx, r, a, d.now())
		return err
	})
	if err != nil {
		return Seats{}, err
	}
	return s, nil
}
