package identity_test

import (
	"testing"

	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/rbac"
)

// TestRemoveMember_RecordsEveryCredentialDeleted is the regression test for removing a
// member recording no event for the credentials deleted with the membership: one commit
// holds the member's event and one *_deleted event per credential the member owned in the
// account, and neither the member's credentials in another account nor another owner's get
// one.
func TestRemoveMember_RecordsEveryCredentialDeleted(t *testing.T) {
	e := newEnv(t)
	a, adminA := e.Account("a@example.com", "enterprise")
	b, adminB := e.Account("b@example.com", "enterprise")
	dev := e.Join(adminA, "dev@example.com", rbac.RoleDeveloper)
	e.Join(adminB, "dev@example.com", rbac.RoleDeveloper)
	creds := e.CredentialsOfEveryKind(a.ID, dev.ID)
	e.Credential(b.ID, dev.ID)    // in another account: stays, no event
	e.Credential(a.ID, adminA.ID) // another owner's: stays, no event
	commits := e.CommitsOf(func() {
		if err := e.Dir.RemoveMember(e.Ctx, adminA, a.ID, dev.ID); err != nil {
			t.Fatal(err)
		}
	})
	e.WantOwnerDeletion(commits, adminA.Audit(), audit.MemberDeleted, dev.ID, creds)
}
