package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/identity"
)

// bootstrapResult says what the bootstrap found or made. APIKey is set only when this start
// made the key: the store keeps only its hash.
type bootstrapResult struct {
	AccountID   string `json:"account_id"`
	AdminUserID string `json:"admin_user_id"`
	APIKey      string `json:"api_key"`
}

// accountKey is the key of the account the server bootstraps (iamkit.BootstrapSpec): what a
// restart, or another server starting on the same store, finds it by.
const accountKey = "apiserver"

// bootstrapSpec makes an empty store usable: an account on the Enterprise plan, its
// administrator (the user with adminEmail) and a first API key owned by that administrator,
// which is the only way in (ngrok's dashboard plays this part). iamkit.IAM.Bootstrap makes
// them once, whatever the number of restarts and of servers starting at once.
func bootstrapSpec(adminEmail string) iamkit.BootstrapSpec {
	return iamkit.BootstrapSpec{
		AccountKey: accountKey, AccountName: "iamkit", Plan: identity.Enterprise().Name,
		AdminEmail: adminEmail, AdminName: "Administrator", APIKey: true,
	}
}

// resultOf is what the banner and -bootstrap-json show of b.
func resultOf(b iamkit.Bootstrapped) bootstrapResult {
	res := bootstrapResult{AccountID: b.Account.ID, AdminUserID: b.Admin.ID}
	if !b.APIKey.Token.IsZero() {
		res.APIKey = b.APIKey.Token.Reveal() // the one time the key is handed out
	}
	return res
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
