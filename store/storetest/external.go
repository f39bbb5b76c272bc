package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// testExternalIdentities covers the links of identity providers' subjects to users.
func testExternalIdentities(t *testing.T, ns NewStore) {
	link := func(e *env) store.ExternalIdentity {
		acct := e.putAccount()
		idp := e.newIdP(acct)
		u := e.putMemberUser(acct, store.MemberActive)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, idp) })
		return store.ExternalIdentity{AccountID: acct, IdPID: idp.ID, Subject: "00u1ab2CD3ef:opaque", UserID: u.ID, CreatedAt: e.now()}
	}
	get := func(e *env, idpID, subject string) (store.ExternalIdentity, error) {
		return read(e, func(r store.Reader) (store.ExternalIdentity, error) { return r.ExternalIdentity(e.ctx, idpID, subject) })
	}

	leaf(t, "put_get", ns, func(e *env) {
		x := link(e)
		head := e.head()
		e.update(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, x) })
		got, err := get(e, x.IdPID, x.Subject)
		if err != nil {
			e.t.Fatal(err)
		}
		diff(e.t, "external identity", x, got)
		cs, _ := e.commits(head, 1)
		diff(e.t, "changes", []store.Change{{Kind: store.KindExternalIdentity, Op: store.OpPut, AccountID: x.AccountID, ID: x.UserID}}, cs[0].Changes)
	})
	leaf(t, "keyed_by_idp_and_subject", ns, func(e *env) {
		x := link(e)
		e.update(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, x) })
		other := e.newIdP(x.AccountID)
		e.update(func(tx store.Tx) error { return tx.PutIdentityProvider(e.ctx, other) })
		for _, c := range []struct{ idp, subject string }{
			{x.IdPID, strings.ToUpper(x.Subject)}, // subjects compare exactly
			{other.ID, x.Subject},                 // the same subject at another IdP is another person
			{x.IdPID, x.Subject + "x"},
		} {
			_, err := get(e, c.idp, c.subject)
			wantIs(e.t, "ExternalIdentity("+c.subject+")", err, store.ErrNotFound)
		}
	})
	leaf(t, "replace", ns, func(e *env) {
		x := link(e)
		e.update(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, x) })
		u := e.putMemberUser(x.AccountID, store.MemberActive)
		x.UserID = u.ID
		e.update(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, x) })
		got, err := get(e, x.IdPID, x.Subject)
		if err != nil || got.UserID != u.ID {
			e.t.Fatalf("after replace: %+v, %v; want user %s", got, err, u.ID)
		}
	})
	leaf(t, "validation", ns, func(e *env) {
		x := link(e)
		for _, c := range []struct {
			field string
			mod   func(*store.ExternalIdentity)
		}{
			{"external_identity.subject", func(x *store.ExternalIdentity) { x.Subject = "" }},
			{"external_identity.subject", func(x *store.ExternalIdentity) { x.Subject = strings.Repeat("s", store.MaxSubjectLen+1) }},
			{"external_identity.user_id", func(x *store.ExternalIdentity) { x.UserID = "" }},
			{"external_identity.idp_id", func(x *store.ExternalIdentity) { x.IdPID = "" }},
		} {
			bad := x
			c.mod(&bad)
			err := e.tryUpdate(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, bad) })
			wantIs(e.t, c.field, err, store.ErrInvalid)
			var ie *store.Error
			if !errors.As(err, &ie) || ie.Field != c.field {
				e.t.Fatalf("error %v, want a store.Error naming %s", err, c.field)
			}
		}
		x.Subject = strings.Repeat("s", store.MaxSubjectLen)
		e.update(func(tx store.Tx) error { return tx.PutExternalIdentity(e.ctx, x) })
	})
}
