package identity

import (
	"context"
	"errors"

	"github.com/iamkit/iamkit/store"
)

// AccountSpec describes the account EnsureAccount finds or creates.
type AccountSpec struct {
	// Key is the embedder's key for the account (its own tenant ID, a slug), unique across the
	// store: what EnsureAccount finds the account by. Required.
	Key string
	// Name and Plan are the new account's; FounderID is the user who becomes its first
	// administrator. They are not compared with an existing account's.
	Name, Plan, FounderID string
}

// EnsureAccount returns the account with spec.Key, and creates it first, with spec.FounderID
// as its first administrator, when there is none; created says which. Calls with one key
// make one account, however many run at once in however many processes: the key is unique
// across the store, and a call that loses the race returns the account the winner made.
// Like CreateAccount it is a bootstrap call and checks no permission.
func (d *Directory) EnsureAccount(ctx context.Context, spec AccountSpec) (acct store.Account, created bool, err error) {
	if err := CheckName("key", spec.Key, true); err != nil {
		return store.Account{}, false, err
	}
	if acct, err = d.accountByKey(ctx, spec.Key); !errors.Is(err, store.ErrNotFound) {
		return acct, false, err
	}
	acct, err = d.createAccount(ctx, spec.Key, spec.FounderID, spec.Name, spec.Plan)
	if isTaken(err, store.IndexAccountKey) {
		acct, err = d.accountByKey(ctx, spec.Key)
		return acct, false, err
	}
	return acct, err == nil, err
}

func (d *Directory) accountByKey(ctx context.Context, key string) (store.Account, error) {
	var a store.Account
	err := d.st.View(ctx, func(r store.Reader) error {
		var err error
		a, err = r.AccountByKey(ctx, key)
		return err
	})
	return a, err
}

// EnsureUser returns the user with email, and creates it first, named name, when there is
// none; created says which. Concurrent calls with one email make one user. Like CreateUser it
// is a sign-up call and checks no permission.
func (d *Directory) EnsureUser(ctx context.Context, email, name string) (u store.User, created bool, err error) {
	u, err = d.CreateUser(ctx, email, name)
	if isTaken(err, store.IndexEmail) {
		u, err = d.UserByEmail(ctx, email)
		return u, false, err
	}
	return u, err == nil, err
}

// isTaken reports whether err is a unique key of that name already taken.
func isTaken(err error, index string) bool {
	var e *store.Error
	return errors.As(err, &e) && e.Kind == store.ErrConflict && e.Code == store.CodeAlreadyExists && e.Field == index
}
