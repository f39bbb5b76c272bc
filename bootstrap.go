package iamkit

import (
	"context"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// BootstrapSpec describes the account a service needs to exist when it starts.
type BootstrapSpec struct {
	// AccountKey is the embedder's unique key for the account: what a restart finds it by.
	AccountKey  string
	AccountName string
	Plan        string
	// AdminEmail and AdminName are its first administrator's, a user created if none has the
	// email.
	AdminEmail, AdminName string
	// APIKey asks for an API key owned by the administrator, made when the administrator
	// holds none in the account (so on the first start, and on the start after one that
	// stopped before making it).
	APIKey bool
}

// Bootstrapped is what Bootstrap found or made.
type Bootstrapped struct {
	Account store.Account
	// Admin is the administrator, as the principal the embedder's own code acts as
	// (source sdk).
	Admin Principal
	// Created reports that this call created the account.
	Created bool
	// APIKey is the API key made by this call: its token is shown this once. It is zero when
	// none was asked for or the administrator already held one.
	APIKey credential.Issued
}

// Bootstrap makes sure the account of spec exists, with its administrator and, if asked, an
// API key, and returns them. It is idempotent: a restart on the same store creates nothing,
// and processes starting at once on one empty store make one account (its key is unique
// across the store; see identity.Directory.EnsureAccount). Two processes racing on a fresh
// account may each make an API key.
func (i *IAM) Bootstrap(ctx context.Context, spec BootstrapSpec) (Bootstrapped, error) {
	u, _, err := i.dir.EnsureUser(ctx, spec.AdminEmail, spec.AdminName)
	if err != nil {
		return Bootstrapped{}, err
	}
	acct, created, err := i.dir.EnsureAccount(ctx, identity.AccountSpec{
		Key: spec.AccountKey, Name: spec.AccountName, Plan: spec.Plan, FounderID: u.ID,
	})
	if err != nil {
		return Bootstrapped{}, err
	}
	admin, err := i.dir.Principal(ctx, acct.ID, u.ID, identity.SourceSDK, "")
	if err != nil {
		return Bootstrapped{}, err
	}
	b := Bootstrapped{Account: acct, Admin: admin, Created: created}
	if !spec.APIKey {
		return b, nil
	}
	held, err := i.holdsAPIKey(ctx, admin)
	if err != nil || held {
		return b, err
	}
	b.APIKey, err = i.creds.Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey, Description: "bootstrap"})
	return b, err
}

// holdsAPIKey reports whether p owns an API key in its account.
func (i *IAM) holdsAPIKey(ctx context.Context, p Principal) (bool, error) {
	held := false
	err := i.st.View(ctx, func(r store.Reader) error {
		page := store.Page{Limit: store.MaxPageLimit}
		for !held {
			cs, err := r.CredentialsByOwner(ctx, p.AccountID, p.ID, page)
			if err != nil || len(cs) == 0 {
				return err
			}
			for _, c := range cs {
				held = held || c.Kind == store.APIKey
			}
			page.BeforeID = cs[len(cs)-1].ID
		}
		return nil
	})
	return held, err
}
