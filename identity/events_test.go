package identity_test

import (
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
)

// TestRemoveMember_OneCommitWithItsEvent: removing a member is one commit holding the
// member's event and the tombstone that makes every credential the member owned in the
// account gone at once; neither the member's credentials in another account nor another
// owner's are touched. (The credentials' *_deleted events come from credential's purger:
// credential.TestPurge_BotWithManyCredentials and TestPurge_MemberRemoved.)
func TestRemoveMember_OneCommitWithItsEvent(t *testing.T) {
	e := newEnv(t)
	a, adminA := e.Account("a@example.com", "enterprise")
	b, adminB := e.Account("b@example.com", "enterprise")
	dev := e.Join(adminA, "dev@example.com", rbac.RoleDeveloper)
	e.Join(adminB, "dev@example.com", rbac.RoleDeveloper)
	creds := e.CredentialsOfEveryKind(a.ID, dev.ID)
	e.Credential(b.ID, dev.ID)    // in another account: stays, no event
	e.Credential(a.ID, adminA.ID) // another owner's: stays, no event
	commits := e.CommitsOf(func() {
		if err := e.Dir.RemoveMember(e.Ctx, adminA, dev.ID); err != nil {
			t.Fatal(err)
		}
	})
	e.WantOwnerDeletion(commits, adminA.Audit(), identity.EventMemberDeleted, dev.ID, creds)
}
