package members

import (
	"context"

	"github.com/iamkit/iamkit/store"
)

// EndSessions deletes every dashboard session of userID in accountID inside tx and returns
// them: what disabling or removing a member does (identity), and an administrator or the
// member ending them all (sso). A member has few sessions (sso caps them), so the write is
// small; callers record what they need to.
func EndSessions(ctx context.Context, tx store.Tx, accountID, userID string) ([]store.Session, error) {
	var ended []store.Session
	p := store.Page{Limit: store.MaxPageLimit}
	for {
		ss, err := tx.SessionsByUser(ctx, accountID, userID, p)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if err := tx.DeleteSession(ctx, s.ID); err != nil {
				return nil, err
			}
		}
		ended = append(ended, ss...)
		if len(ss) < p.Limit {
			return ended, nil
		}
		p.BeforeID = ss[len(ss)-1].ID
	}
}
