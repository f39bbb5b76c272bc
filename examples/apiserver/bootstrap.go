package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// bootstrapResult says what bootstrap found or made. APIKey is set only when a key was
// created by this call: the store keeps only its hash.
type bootstrapResult struct {
	AccountID   string `json:"account_id"`
	AdminUserID string `json:"admin_user_id"`
	APIKey      string `json:"api_key"`
}

// bootstrap makes an empty store usable: an account on the Enterprise plan, its administrator
// (the user with adminEmail) and a first API key owned by that administrator, which is the only
// way in (ngrok's dashboard plays this part).
//
// The marker of a bootstrapped store is the administrator's user, found by its fixed email,
// being a member of an account that holds at least one API key. Each step is repeatable, so a
// bootstrap interrupted between steps (a crash, a Redis hiccup) completes on the next start, and
// a bootstrapped store is left alone. Two processes bootstrapping one empty Redis at the same
// moment may each create an account; start the first one alone.
func bootstrap(ctx context.Context, dir *identity.Directory, creds *credential.Service, adminEmail string) (bootstrapResult, error) {
	u, err := dir.UserByEmail(ctx, adminEmail)
	if errors.Is(err, store.ErrNotFound) {
		u, err = dir.CreateUser(ctx, adminEmail, "Administrator")
		if errors.Is(err, store.ErrConflict) { // created concurrently
			u, err = dir.UserByEmail(ctx, adminEmail)
		}
	}
	if err != nil {
		return bootstrapResult{}, fmt.Errorf("bootstrap: admin user: %w", err)
	}
	ms, err := dir.Memberships(ctx, u.ID)
	if err != nil {
		return bootstrapResult{}, fmt.Errorf("bootstrap: memberships: %w", err)
	}
	var accountID string
	if len(ms) == 0 {
		acct, err := dir.CreateAccount(ctx, u.ID, "iamkit", identity.Enterprise().Name)
		if err != nil {
			return bootstrapResult{}, fmt.Errorf("bootstrap: account: %w", err)
		}
		accountID = acct.ID
	} else {
		accountID = ms[0].AccountID
	}
	res := bootstrapResult{AccountID: accountID, AdminUserID: u.ID}
	admin, err := dir.Principal(ctx, accountID, u.ID, identity.SourceSDK, "")
	if err != nil {
		return bootstrapResult{}, fmt.Errorf("bootstrap: principal: %w", err)
	}
	keys, err := creds.List(ctx, admin, store.APIKey, store.Page{Limit: 1})
	if err != nil {
		return bootstrapResult{}, fmt.Errorf("bootstrap: listing API keys: %w", err)
	}
	if len(keys) > 0 {
		return res, nil
	}
	issued, err := creds.Create(ctx, admin, credential.CreateRequest{Kind: store.APIKey, Description: "bootstrap API key"})
	if err != nil {
		return bootstrapResult{}, fmt.Errorf("bootstrap: API key: %w", err)
	}
	res.APIKey = issued.Token.Reveal()
	return res, nil
}

// writeBootstrapJSON writes res to path, readable by its owner only.
func writeBootstrapJSON(path string, res bootstrapResult) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("bootstrap json: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return fmt.Errorf("bootstrap json: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("bootstrap json: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bootstrap json: %w", err)
	}
	return nil
}
