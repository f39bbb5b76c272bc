package memstore_test

import (
	"testing"
	"time"

	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
	"github.com/iamkit/iamkit/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, err := memstore.New(memstore.WithClock(clockFunc(o.Now)), memstore.WithFeedRetention(o.FeedRetention))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// clockFunc adapts the suite's clock function to a store.Clock.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// TestViewIsASnapshot: a View reads the state committed when it began, whatever Updates
// commit while it runs, down to a listing's pages and counts.
func TestViewIsASnapshot(t *testing.T) {
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	const acct = "ac_01JGJFGR4800VZ4FFEY59B0KSHSNAP"
	bot := func(i int) store.BotUser {
		return store.BotUser{ID: "bot_01JGJFGR4800VZ4FFEY59B" + string(rune('A'+i)) + "000SNAP", AccountID: acct, Name: "b" + string(rune('a'+i)), Active: true}
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Account{ID: acct, Name: "snap"}); err != nil {
			return err
		}
		return tx.PutBotUser(ctx, bot(0))
	}); err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(r store.Reader) error {
		for i := 1; i <= 3; i++ {
			if err := st.Update(ctx, func(tx store.Tx) error {
				if err := tx.PutBotUser(ctx, bot(i)); err != nil {
					return err
				}
				return tx.DeleteBotUser(ctx, bot(i-1).ID, store.Principal{ID: "usr_x"})
			}); err != nil {
				return err
			}
			bs, err := r.BotUsers(ctx, acct, store.Page{Limit: 10})
			if err != nil {
				return err
			}
			if len(bs) != 1 || bs[0].ID != bot(0).ID {
				t.Fatalf("after %d Updates, the View lists %+v, want only %s", i, bs, bot(0).ID)
			}
			if _, err := r.BotUserByName(ctx, acct, bot(i).Name); err == nil {
				t.Fatalf("after %d Updates, the View finds %s by name", i, bot(i).Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(r store.Reader) error {
		bs, err := r.BotUsers(ctx, acct, store.Page{Limit: 10})
		if err == nil && (len(bs) != 1 || bs[0].ID != bot(3).ID) {
			t.Fatalf("a new View lists %+v, want only %s", bs, bot(3).ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
