package credential_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// scanner plays GitHub: a P-256 key and its identifier.
type scanner struct {
	id  string
	key *ecdsa.PrivateKey
}

func newScanner(t testing.TB, keyID string) scanner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return scanner{id: keyID, key: k}
}

// pem returns the scanner's public key as GitHub publishes it.
func (s scanner) pem(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign returns the Github-Public-Key-Signature of body.
func (s scanner) sign(t testing.TB, body []byte) string {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// report is a secret-scanning report's body.
func report(t testing.TB, matches ...credential.ScanMatch) []byte {
	t.Helper()
	b, err := json.Marshal(matches)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// leakEnv is a tokEnv with a LeakResponder trusting github's key, and the notices its hook
// received.
type leakEnv struct {
	*tokEnv
	github  scanner
	r       *credential.LeakResponder
	mu      sync.Mutex
	notices []credential.LeakNotice
	logs    bytes.Buffer
}

func newLeakEnv(t *testing.T) *leakEnv {
	t.Helper()
	e := &leakEnv{tokEnv: newTokEnv(t), github: newScanner(t, "github-key-1")}
	doc, err := json.Marshal(map[string]any{"public_keys": []map[string]any{
		{"key_identifier": e.github.id, "key": string(e.github.pem(t)), "is_current": true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := credential.ParseGitHubKeys(doc)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &e.logs}, nil))
	e.r, err = credential.NewLeakResponder(e.Store, keys, credential.WithClock(e.Clock), credential.WithLogger(logger),
		credential.WithLeakNotifier(func(ctx context.Context, n credential.LeakNotice) error {
			// The revocation has committed: the credential is gone for every read.
			if _, _, err := e.Auth(n.CredentialID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the hook ran before the commit: %v", err)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			e.notices = append(e.notices, n)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLeakResponder_RevokesReportedTokens: a signed report revokes every live credential
// it names, at once (the Verifier refuses it), with an audit event naming the leak responder
// and where the token was found, and a notice to the owner after the commit; the feedback
// labels each reported token, real or not.
func TestLeakResponder_RevokesReportedTokens(t *testing.T) {
	e := newLeakEnv(t)
	leaked := e.create(e.admin, credential.CreateRequest{Kind: store.AccessToken, OwnerID: e.bot.ID, Scopes: []string{"credentials:read"}})
	alsoLeaked := e.create(e.dev, credential.CreateRequest{Kind: store.Authtoken})
	untouched := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	forged, err := credential.NewToken(store.APIKey, untouched.ID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	test, err := credential.NewTestToken(store.AccessToken, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt"
	body := report(t,
		credential.ScanMatch{Token: leaked.Token.Reveal(), Type: "iamkit_access_token", URL: url, Source: "content"},
		credential.ScanMatch{Token: forged.Reveal(), Type: "iamkit_api_key", URL: url, Source: "content"},
		credential.ScanMatch{Token: test, Type: "iamkit_access_token", URL: url, Source: "content"},
		credential.ScanMatch{Token: "ghp_notours", Type: "iamkit_access_token", URL: url, Source: "commit"},
		credential.ScanMatch{Token: alsoLeaked.Token.Reveal(), Type: "iamkit_authtoken", URL: url, Source: "commit"},
	)
	e.Clock.Advance(1e9) // the revocation events are the newest
	got, err := e.r.HandleGitHubScan(e.Ctx, e.github.id, e.github.sign(t, body), body)
	if err != nil {
		t.Fatal(err)
	}
	want := []credential.ScanFeedback{
		{TokenRaw: leaked.Token.Reveal(), TokenType: "iamkit_access_token", Label: credential.LabelTruePositive},
		{TokenRaw: forged.Reveal(), TokenType: "iamkit_api_key", Label: credential.LabelFalsePositive},
		{TokenRaw: test, TokenType: "iamkit_access_token", Label: credential.LabelFalsePositive},
		{TokenRaw: "ghp_notours", TokenType: "iamkit_access_token", Label: credential.LabelFalsePositive},
		{TokenRaw: alsoLeaked.Token.Reveal(), TokenType: "iamkit_authtoken", Label: credential.LabelTruePositive},
	}
	if len(got) != len(want) {
		t.Fatalf("%d feedback entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("feedback[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	js, err := json.Marshal(got[0])
	if err != nil || !strings.Contains(string(js), `"token_raw":"`+leaked.Token.Reveal()+`"`) || !strings.Contains(string(js), `"label":"true_positive"`) {
		t.Fatalf("feedback JSON %s", js)
	}
	e.sync()
	for _, tok := range []credential.Secret{leaked.Token, alsoLeaked.Token} {
		_, err := e.v.VerifyToken(e.Ctx, tok.Reveal())
		if !errors.Is(err, credential.ReasonRevoked) && !errors.Is(err, credential.ReasonUnknown) {
			t.Errorf("a leaked token after the report: %v", err)
		}
	}
	if _, err := e.v.VerifyToken(e.Ctx, untouched.Token.Reveal()); err != nil {
		t.Errorf("the credential whose secret was forged in the report: %v", err)
	}
	evs := e.Events(e.admin.AccountID)
	var revokedEvents int
	for _, ev := range evs {
		if ev.Principal.ID != credential.LeakResponderID {
			continue
		}
		revokedEvents++
		if ev.Principal.Source != string(identity.SourceLeakResponder) || !strings.Contains(ev.Principal.Subject, url) ||
			!strings.HasPrefix(ev.Principal.Subject, "GitHub secret scanning") {
			t.Errorf("event %s by %+v", ev.Type, ev.Principal)
		}
		if ev.Type != identity.EventAccessTokenDeleted && ev.Type != identity.EventTunnelCredentialDeleted {
			t.Errorf("event type %s", ev.Type)
		}
	}
	if revokedEvents != 2 {
		t.Fatalf("%d revocation events, want 2", revokedEvents)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.notices) != 2 || e.notices[0].CredentialID != leaked.ID || e.notices[0].OwnerID != e.bot.ID || !e.notices[0].OwnerBot ||
		e.notices[0].URL != url || e.notices[1].CredentialID != alsoLeaked.ID || e.notices[1].OwnerID != e.dev.ID {
		t.Fatalf("notices %+v", e.notices)
	}
	for _, tok := range []credential.Secret{leaked.Token, alsoLeaked.Token} {
		secret := tok.Token().SecretPart()
		shown := fmt.Sprintf("%v %+v %#v %s %v", got, got[0], got[0], got[4], credential.ScanMatch{Token: tok.Reveal()}) + e.logs.String()
		if strings.Contains(shown, secret) {
			t.Fatalf("a token is printed or logged: %s", shown)
		}
	}
}

// TestLeakResponder_RefusesForgedAndReplayed: a report whose signature is missing, malformed,
// by another key, under an unknown key identifier, or over another body is refused and
// revokes nothing; the same signed report sent twice is refused the second time.
func TestLeakResponder_RefusesForgedAndReplayed(t *testing.T) {
	e := newLeakEnv(t)
	live := e.create(e.dev, credential.CreateRequest{Kind: store.APIKey})
	body := report(t, credential.ScanMatch{Token: live.Token.Reveal(), Type: "iamkit_api_key", URL: "https://github.com/x/y", Source: "content"})
	attacker := newScanner(t, e.github.id) // the right identifier, another key
	tampered := bytes.Replace(body, []byte("x/y"), []byte("x/z"), 1)
	for _, c := range []struct {
		name, keyID, sig string
		body             []byte
	}{
		{"no_signature", e.github.id, "", body},
		{"not_base64", e.github.id, "!!!", body},
		{"not_der", e.github.id, base64.StdEncoding.EncodeToString([]byte("not a signature")), body},
		{"signed_by_another_key", e.github.id, attacker.sign(t, body), body},
		{"unknown_key_identifier", "github-key-2", e.github.sign(t, body), body},
		{"no_key_identifier", "", e.github.sign(t, body), body},
		{"body_changed_after_signing", e.github.id, e.github.sign(t, body), tampered},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.r.HandleGitHubScan(e.Ctx, c.keyID, c.sig, c.body)
			wantError(t, "HandleGitHubScan", err, store.ErrUnauthenticated, credential.CodeScanSignature, "")
		})
	}
	if _, err := e.v.VerifyToken(e.Ctx, live.Token.Reveal()); err != nil {
		t.Fatalf("the credential after forged reports: %v", err)
	}
	sig := e.github.sign(t, body)
	if fb, err := e.r.HandleGitHubScan(e.Ctx, e.github.id, sig, body); err != nil || fb[0].Label != credential.LabelTruePositive {
		t.Fatalf("the genuine report: %v, %v", fb, err)
	}
	_, err := e.r.HandleGitHubScan(e.Ctx, e.github.id, sig, body)
	wantError(t, "the same report again", err, store.ErrUnauthenticated, credential.CodeScanReplayed, "")
	// Another signature of the same body is the same report.
	_, err = e.r.HandleGitHubScan(e.Ctx, e.github.id, e.github.sign(t, body), body)
	wantError(t, "the same body signed again", err, store.ErrUnauthenticated, credential.CodeScanReplayed, "")
}

// TestLeakResponder_MalformedReports: a signed report that is not a JSON array of matches,
// or is too large, is refused.
func TestLeakResponder_MalformedReports(t *testing.T) {
	e := newLeakEnv(t)
	many := make([]credential.ScanMatch, credential.MaxScanMatches+1)
	for i := range many {
		many[i] = credential.ScanMatch{Token: fmt.Sprint(i)}
	}
	for _, c := range []struct {
		name  string
		body  []byte
		limit int
	}{
		{"object", []byte(`{"token":"x"}`), 0},
		{"not_json", []byte(`[{"token":`), 0},
		{"wrong_types", []byte(`[{"token":7}]`), 0},
		{"too_many_matches", report(t, many...), credential.MaxScanMatches},
		{"too_large", append([]byte("["), bytes.Repeat([]byte(" "), credential.MaxScanBody)...), credential.MaxScanBody},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.r.HandleGitHubScan(e.Ctx, e.github.id, e.github.sign(t, c.body), c.body)
			se := wantError(t, "HandleGitHubScan", err, store.ErrInvalid, credential.CodeScanMalformed, "body")
			if se.Limit != c.limit {
				t.Fatalf("Limit = %d, want %d", se.Limit, c.limit)
			}
		})
	}
	if fb, err := e.r.HandleGitHubScan(e.Ctx, e.github.id, e.github.sign(t, []byte("[]")), []byte("[]")); err != nil || len(fb) != 0 {
		t.Fatalf("an empty report: %v, %v", fb, err)
	}
}

func TestParseGitHubKeys(t *testing.T) {
	gh := newScanner(t, "k1")
	rsaLike, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(rsaLike)
	if err != nil {
		t.Fatal(err)
	}
	edPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	p384PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der384}))
	doc := func(keys ...[2]string) []byte {
		var list []map[string]any
		for _, k := range keys {
			list = append(list, map[string]any{"key_identifier": k[0], "key": k[1], "is_current": false})
		}
		b, _ := json.Marshal(map[string]any{"public_keys": list})
		return b
	}
	for _, c := range []struct {
		name  string
		doc   []byte
		n     int
		field string
	}{
		{"two_keys", doc([2]string{"k1", string(gh.pem(t))}, [2]string{"k2", string(gh.pem(t))}), 2, ""},
		{"no_keys", []byte(`{"public_keys":[]}`), 0, ""},
		{"ed25519", doc([2]string{"k1", edPEM}), 0, "public_keys[0].key"},
		{"p384", doc([2]string{"k1", p384PEM}), 0, "public_keys[0].key"},
		{"no_identifier", doc([2]string{"", string(gh.pem(t))}), 0, "public_keys[0].key_identifier"},
		{"not_pem", doc([2]string{"k1", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}), 0, "public_keys[0].key"},
		{"two_pem_blocks", doc([2]string{"k1", string(gh.pem(t)) + string(gh.pem(t))}), 0, "public_keys[0].key"},
		{"not_the_document", []byte(`[]`), 0, "public_keys"},
		{"not_json", []byte(`{`), 0, "public_keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keys, err := credential.ParseGitHubKeys(c.doc)
			if c.field == "" {
				if err != nil || len(keys) != c.n {
					t.Fatalf("ParseGitHubKeys: %d keys, %v", len(keys), err)
				}
				return
			}
			wantError(t, "ParseGitHubKeys", err, store.ErrInvalid, credential.CodeInvalidScanKey, c.field)
		})
	}
	st, err := credential.NewLeakResponder(newTokEnv(t).Store, nil)
	if st != nil || invalidField(err) != "keys" {
		t.Fatalf("a responder without keys: %v", err)
	}
}

// FuzzParseGitHubKeys: whatever the document, ParseGitHubKeys returns P-256 keys with
// identifiers or an invalid-argument error, and never panics.
func FuzzParseGitHubKeys(f *testing.F) {
	gh := newScanner(f, "k1")
	good, _ := json.Marshal(map[string]any{"public_keys": []map[string]any{{"key_identifier": "k1", "key": string(gh.pem(f))}}})
	for _, s := range [][]byte{good, []byte(`{"public_keys":[]}`), []byte(`{"public_keys":null}`), []byte(`[]`), nil, []byte(`{"public_keys":[{"key":"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"}]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := credential.ParseGitHubKeys(doc)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) || store.CodeOf(err) != credential.CodeInvalidScanKey {
				t.Fatalf("ParseGitHubKeys: %v", err)
			}
			return
		}
		for _, k := range keys {
			if k.ID == "" || k.Key == nil || k.Key.Curve != elliptic.P256() {
				t.Fatalf("accepted key %+v", k)
			}
		}
	})
}

// FuzzHandleGitHubScan: whatever the headers and body, a report not signed with the
// configured key revokes nothing and is refused as unauthenticated or malformed, and a
// signed one is answered or refused as malformed; nothing panics.
func FuzzHandleGitHubScan(f *testing.F) {
	gh := newScanner(f, "k1")
	keys := []credential.GitHubKey{{ID: gh.id, Key: &gh.key.PublicKey}}
	st := newFuzzStore(f)
	r, err := credential.NewLeakResponder(st, keys)
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := credential.NewTestToken(store.APIKey, rand.Reader)
	good := report(f, credential.ScanMatch{Token: tok, Type: "t", URL: "u", Source: "content"})
	f.Add(gh.id, gh.sign(f, good), good, true)
	f.Add(gh.id, "", []byte("[]"), true)
	f.Add("other", "AAAA", []byte(`[{"token":"x"}]`), false)
	f.Add(gh.id, "MEUCIQ==", []byte(`{}`), false)
	f.Fuzz(func(t *testing.T, keyID, sig string, body []byte, signIt bool) {
		if signIt {
			sig = gh.sign(t, body)
			keyID = gh.id
		}
		fb, err := r.HandleGitHubScan(context.Background(), keyID, sig, body)
		switch {
		case err == nil:
			if !signIt {
				// A forged signature that verifies: impossible but for a found ECDSA forgery.
				t.Fatalf("an unsigned report was accepted: %q %q %q", keyID, sig, body)
			}
			for _, x := range fb {
				if x.Label != credential.LabelFalsePositive {
					t.Fatalf("a fuzzed report revoked something: %+v", x)
				}
			}
		case !signIt && !errors.Is(err, store.ErrUnauthenticated) && !errors.Is(err, store.ErrInvalid):
			t.Fatalf("an unsigned report: %v", err)
		case signIt && !errors.Is(err, store.ErrInvalid) && store.CodeOf(err) != credential.CodeScanReplayed:
			t.Fatalf("a signed report: %v", err)
		}
	})
}

// newFuzzStore returns an empty memstore, closed when the fuzz test ends.
func newFuzzStore(tb testing.TB) store.Store {
	tb.Helper()
	st, err := memstore.New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
