package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// CreateAccount creates an account on plan with the user founderID as its first member and
// administrator, and records account_created and member_created events attributed to the
// founder (source sdk).
func (d *Directory) CreateAccount(ctx context.Context, founderID, name, plan string) (store.Account, error) {
	if err := checkID("founder_id", founderID, id.User); err != nil {
		return store.Account{}, err
	}
	if err := CheckName("name", name, true); err != nil {
		return store.Account{}, err
	}
	p, ok := d.plans.Plan(plan)
	if !ok {
		return store.Account{}, &ValidationError{Field: "plan", Reason: "not in the plan catalog"}
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
		acct = store.Account{ID: acctID, Name: name, Plan: p.Name, Seats: p.Seats, CreatedAt: now}
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
		if err := d.rec.Record(ctx, tx, acctID, audit.AccountCreated, by.Audit(), acct); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, acctID, audit.MemberCreated, by.Audit(), m)
	})
	if err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

// Account returns an account.
func (d *Directory) Account(ctx context.Context, accountID string) (store.Account, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Account{}, err
	}
	var a store.Account
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		a, err = r.Account(ctx, accountID)
		return err
	})
	return a, err
}

// Plan returns the plan an account is on.
func (d *Directory) Plan(ctx context.Context, accountID string) (Plan, error) {
	a, err := d.Account(ctx, accountID)
	if err != nil {
		return Plan{}, err
	}
	return d.plans.PlanOf(a)
}

// ChangePlan moves an account to another plan of the catalog, taking its seat limit. A
// smaller limit does not remove anyone: it refuses new invitations until seats free up.
// The Guard decides who may (rbac: billing:manage).
func (d *Directory) ChangePlan(ctx context.Context, by Principal, accountID, plan string) (store.Account, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return store.Account{}, err
	}
	if err := by.Validate(accountID); err != nil {
		return store.Account{}, err
	}
	p, ok := d.plans.Plan(plan)
	if !ok {
		return store.Account{}, &ValidationError{Field: "plan", Reason: "not in the plan catalog"}
	}
	var acct store.Account
	err := d.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if acct, err = tx.Account(ctx, accountID); err != nil {
			return err
		}
		if err := d.guard.Permit(ctx, tx, Change{Op: OpChangePlan, By: by, Account: acct}); err != nil {
			return err
		}
		acct.Plan, acct.Seats = p.Name, p.Seats
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return d.rec.Record(ctx, tx, accountID, audit.AccountUpdated, by.Audit(), acct)
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

// Seats returns an account's seat usage.
func (d *Directory) Seats(ctx context.Context, accountID string) (Seats, error) {
	if err := checkID("account_id", accountID, id.Account); err != nil {
		return Seats{}, err
	}
	var s Seats
	err := d.st.View(ctx, func(r store.Reader) error {
		a, err := r.Account(ctx, accountID)
		if err != nil {
			return err
		}
		s, err = seatsOf(ctx, r, a, d.now())
		return err
	})
	return s, err
}

func seatsOf(ctx context.Context, r store.Reader, a store.Account, now time.Time) (Seats, error) {
	s := Seats{Limit: a.Seats}
	var err error
	if s.Members, err = r.CountMemberships(ctx, a.ID, store.MemberActive); err != nil {
		return Seats{}, err
	}
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		invs, err := r.Invitations(ctx, a.ID, p)
		if err != nil {
			return Seats{}, err
		}
		for _, inv := range invs {
			if now.Before(inv.ExpiresAt) {
				s.Invitations++
			}
		}
		if len(invs) < p.Limit {
			return s, nil
		}
		p.BeforeID = invs[len(invs)-1].ID
	}
}

// takeSeats returns a *SeatLimitError if n more seats would exceed the account's limit.
func takeSeats(ctx context.Context, r store.Reader, a store.Account, now time.Time, n int) error {
	if a.Seats == 0 || n <= 0 {
		return nil
	}
	s, err := seatsOf(ctx, r, a, now)
	if err != nil {
		return err
	}
	if s.Used()+n > a.Seats {
		return &SeatLimitError{Limit: a.Seats, Used: s.Used()}
	}
	return nil
}
