package sso

import (
	"context"
	"time"
)

// SingleUseStore holds short-lived single-use keys: outstanding AuthnRequest IDs and the IDs
// of accepted assertions (the replay cache). The project's store.Store satisfies it
// directly; a store shared by several SP instances (Redis) makes request IDs and the replay
// cache hold across all of them. Implementations must be safe for concurrent use.
type SingleUseStore interface {
	// PutSingleUse stores key with value until expiresAt. It returns an error matching
	// store.ErrConflict if key is already stored and not yet expired.
	PutSingleUse(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	// TakeSingleUse atomically returns key's value and deletes it, so that only one caller
	// ever takes it. It returns an error matching store.ErrNotFound if key is absent or
	// expired.
	TakeSingleUse(ctx context.Context, key string) ([]byte, error)
}

// Keys in the SingleUseStore. IdP IDs are [A-Za-z0-9_-] (checked by the callers), so the
// prefix up to the ID being stored is unambiguous.
func requestKey(idpID, requestID string) string { return "saml:req:" + idpID + ":" + requestID }

func assertionKey(idpID, assertionID string) string {
	return "saml:assertion:" + idpID + ":" + assertionID
}
