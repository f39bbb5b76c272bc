package botuser_test

import (
	"slices"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// TestDelete_OneCommitWithItsEvent: deleting a bot user is one commit holding the bot's
// event and the tombstone that makes each of its credentials gone at once; a credential of
// another owner is untouched. (The credentials' *_deleted events come from credential's
// purger: credential.TestPurge_BotWithManyCredentials.)
func TestDelete_OneCommitWithItsEvent(t *testing.T) {
	e := newEnv(t)
	a, admin := e.Account("a@example.com", "payg")
	bot := e.create(admin, "ci")
	creds := e.CredentialsOfEveryKind(a.ID, bot.ID)
	e.Credential(a.ID, admin.ID) // not the bot's: no event
	commits := e.CommitsOf(func() {
		if err := e.bots.Delete(e.Ctx, admin, bot.ID); err != nil {
			t.Fatal(err)
		}
	})
	e.WantOwnerDeletion(commits, admin.Audit(), identity.EventBotUserDeleted, bot.ID, creds)
	if slices.ContainsFunc(creds, func(c store.Credential) bool { _, _, err := e.Auth(c.ID); return err == nil }) {
		t.Fatal("a credential of the deleted bot remains")
	}
}
