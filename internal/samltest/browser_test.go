package samltest

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/iamkit/iamkit/internal/browsertest"
)

// browsers is the Chromium the browser tests of this binary share.
var browsers browsertest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	os.Exit(code)
}

// TestBrowserSignIn signs in with a real browser through the form fields the package
// documents, and lets the response page post itself to the SP's ACS URL.
func TestBrowserSignIn(t *testing.T) {
	b := browsers.New(t)
	idp := Start(t, Options{Users: []User{ada}})
	received := make(chan string, 1)
	sp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := r.PostFormValue("SAMLResponse")
		select {
		case received <- resp:
		default:
		}
		fmt.Fprintf(w, `<!doctype html><title>ACS</title><p id="acs">%s</p>`, html.EscapeString(r.Method))
	}))
	t.Cleanup(sp.Close)
	acs := sp.URL + "/saml/acs"
	if err := idp.RegisterSP(SP{EntityID: spEntityID, ACSURL: acs}); err != nil {
		t.Fatal(err)
	}

	b.Navigate(idp.IdPInitiatedURL(spEntityID))
	b.Fill("#username", ada.Username)
	b.Fill("#password", ada.Password)
	b.ClickAndWait("#submit_button")
	b.WaitURL(browsertest.HasPrefix(acs))
	if got := b.Text("#acs"); got != http.MethodPost {
		t.Errorf("the ACS was reached by %q, want a POST", got)
	}
	select {
	case resp := <-received:
		r := decodeResponse(t, idp, resp)
		wantAssertion(t, r, acs)
	default:
		t.Fatal("the ACS got no SAMLResponse")
	}
}
