package sso_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// TestACSChecksTheMessageFirst: what can be checked on the posted message alone is
// checked before anything costlier. CompleteLogin refuses a hostile SAMLResponse before it
// reads the account and parses the IdP's stored metadata: posted to an IdP that does not
// exist, it is refused for what it is, not as an unknown IdP. And the ACS handler reads no
// more of a body than the Validator's size cap can need.
func TestACSChecksTheMessageFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, identity.Enterprise().Name)
	idp := e.newIdP(sso.IdPParams{})
	const unknownIdP = "idp_01JD3Q2V8M4X7N9P0R5S6T7V8WK3ZQ"

	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	_, _ = w.Write(bytes.Repeat([]byte("<"), 4<<20))
	_ = w.Close()
	for _, c := range []struct {
		name, samlResponse string
		want               string
	}{
		{"DeflateBomb", base64.StdEncoding.EncodeToString(bomb.Bytes()), sso.CodeMalformedResponse},
		{"OverSizeCap", strings.Repeat("A", sso.DefaultMaxResponseSize+4), sso.CodeResponseTooLarge},
		{"DeepNesting", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("<a>", 10000))), sso.CodeUnsafeXML},
		{"NotBase64", "%%%", sso.CodeMalformedResponse},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.CompleteLogin(e.ctx, sso.ACSRequest{AccountID: e.acct.ID, IdPID: unknownIdP, SAMLResponse: c.samlResponse})
			if errors.Is(err, store.ErrNotFound) {
				t.Fatalf("looked the IdP up before checking the message: %v", err)
			}
			wantCode(t, err, c.want)
			if !isResponseErr(err) {
				t.Fatalf("error %v, want a rejected response", err)
			}
		})
	}

	t.Run("BodyBeyondWhatTheCapNeeds", func(t *testing.T) {
		t.Parallel()
		// Even percent-encoded, a form value within the cap takes at most three times its
		// size; this body is larger, though well under a megabyte.
		huge := strings.Repeat("A", 3*sso.DefaultMaxResponseSize+16<<10)
		p := newBrowser(t).post(e.acsURL(idp), url.Values{"SAMLResponse": {huge}})
		wantPage(t, p, http.StatusRequestEntityTooLarge)
	})
}
