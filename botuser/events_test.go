package botuser_test

import (
	"slices"
	"testing"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/store"
)

// TestDelete_RecordsEveryCredentialDeleted is the regression test for deleting a bot user
// recording no event for the credentials deleted with it: one commit holds the bot's event
// and one *_deleted event per credential, and a credential of another owner gets none.
func TestDelete_RecordsEveryCredentialDeleted(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci")
	creds := e.CredentialsOfEveryKind(a.ID, bot.ID)
	e.Credential(a.ID, admin.ID) // not the bot's: no event
	commits := e.CommitsOf(func() {
		if err := e.bots.Delete(e.Ctx, admin, a.ID, bot.ID); err != nil {
			t.Fatal(err)
		}
	})
	e.WantOwnerDeletion(commits, admin.Audit(), audit.BotUserDeleted, bot.ID, creds)
	if slices.ContainsFunc(creds, func(c store.Credential) bool { _, _, err := e.Auth(c.ID); return err == nil }) {
		t.Fatal("a credential of the deleted bot remains")
	}
}
