package sso_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// The Dashboard tests build on env (env_test.go): memstore, identity, rbac, an SSO-enabled
// account with an administrator, on a fake clock. Passwords are hashed with the cheapest
// parameters Argon2id is allowed here, to keep the race detector's run short; the
// benchmarks use the defaults.

// testSecretKey seals TOTP secrets in tests.
var testSecretKey = bytes.Repeat([]byte{7}, sso.SecretKeyLen)

const goodPassword = "correct horse battery" // 21 characters, not on the common list

func cheapParams() sso.PasswordParams {
	return sso.PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// dashEnv is env with a Dashboard.
type dashEnv struct {
	*env
	dash *sso.Dashboard
}

func newDash(t testing.TB, plan string, opts ...sso.DashboardOption) *dashEnv {
	t.Helper()
	e := newEnv(t, plan)
	d, err := sso.NewDashboard(e.svc, append([]sso.DashboardOption{
		sso.WithPasswordParams(cheapParams()), sso.WithSecretKey(testSecretKey),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &dashEnv{env: e, dash: d}
}

// withPassword creates a member with roles and a password.
func (e *dashEnv) withPassword(email string, roles ...string) store.User {
	e.t.Helper()
	u := e.member(email, roles...)
	if err := e.dash.SetInitialPassword(e.ctx, u.ID, goodPassword); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *dashEnv) signIn(email, password string) (sso.SignInResult, error) {
	return e.dash.SignIn(e.ctx, sso.SignInRequest{
		AccountID: e.acct.ID, Email: email, Password: password,
		Client: sso.Client{UserAgent: "Mozilla/5.0 test", IP: "192.0.2.1"},
	})
}

// session signs email in with goodPassword and returns the session and its token; it fails
// unless the sign-in is done in one step.
func (e *dashEnv) session(email string) (sso.Session, string) {
	e.t.Helper()
	res, err := e.signIn(email, goodPassword)
	if err != nil {
		e.t.Fatalf("SignIn(%s): %v", email, err)
	}
	if res.Step != sso.StepDone {
		e.t.Fatalf("SignIn(%s): step %s, want done", email, res.Step)
	}
	return res.Session, res.Token.Reveal()
}

func (e *dashEnv) verify(token string) (sso.Session, error) {
	return e.dash.Verify(e.ctx, e.acct.ID, token)
}

// wantAlive fails unless token verifies.
func (e *dashEnv) wantAlive(what, token string) {
	e.t.Helper()
	if _, err := e.verify(token); err != nil {
		e.t.Fatalf("%s: Verify: %v, want the session alive", what, err)
	}
}

// wantEnded fails unless token is refused with code.
func (e *dashEnv) wantEnded(what, token, code string) {
	e.t.Helper()
	_, err := e.verify(token)
	if !errors.Is(err, store.ErrUnauthenticated) || store.CodeOf(err) != code {
		e.t.Fatalf("%s: Verify: %v (code %q), want ErrUnauthenticated with code %q", what, err, store.CodeOf(err), code)
	}
}

// code returns the TOTP code of a base32 secret at the fake clock's time plus offset.
func (e *dashEnv) code(secret string, offset time.Duration) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clk.Now().Add(offset), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// enrol gives the member of s a confirmed TOTP and returns its secret and recovery codes.
func (e *dashEnv) enrol(s sso.Session) (string, []string) {
	e.t.Helper()
	setup, err := e.dash.BeginTOTP(e.ctx, s)
	if err != nil {
		e.t.Fatalf("BeginTOTP: %v", err)
	}
	secret := setup.Secret.Reveal()
	codes, err := e.dash.ConfirmTOTP(e.ctx, s, e.code(secret, 0))
	if err != nil {
		e.t.Fatalf("ConfirmTOTP: %v", err)
	}
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = c.Reveal()
	}
	e.clk.Advance(30 * time.Second) // past the step just used
	return secret, out
}

// events returns the types of the account's events after the first n, oldest first.
func (e *dashEnv) eventsSince(n int) []store.Event {
	e.t.Helper()
	var evs []store.Event
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		evs, err = r.Events(e.ctx, e.acct.ID, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs[n:]
}

// eventCount returns how many events the account has, and moves the clock on by a
// millisecond, so that events recorded after sort after them (event IDs are ULIDs, and the
// services draw them from generators of their own).
func (e *dashEnv) eventCount() int {
	n := len(e.eventsSince(0))
	e.clk.Advance(time.Millisecond)
	return n
}

// wantEvents fails unless the account's events after the first n have types want.
func (e *dashEnv) wantEvents(n int, want ...store.EventType) []store.Event {
	e.t.Helper()
	evs := e.eventsSince(n)
	got := make([]store.EventType, len(evs))
	for i, ev := range evs {
		got[i] = ev.Type
	}
	if len(got) != len(want) {
		e.t.Fatalf("events %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Fatalf("events %v, want %v", got, want)
		}
	}
	return evs
}

// object decodes an event's object.
func object[T any](t testing.TB, ev store.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(ev.Object, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// secretsOf reads a user's secrets.
func (e *dashEnv) secretsOf(userID string) store.UserSecrets {
	e.t.Helper()
	var sec store.UserSecrets
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		sec, err = r.UserSecrets(e.ctx, userID)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return sec
}

// storedSessions lists a user's session records in the account, ended or not.
func (e *dashEnv) storedSessions(userID string) []store.Session {
	e.t.Helper()
	var ss []store.Session
	err := e.st.View(e.ctx, func(r store.Reader) error {
		var err error
		ss, err = r.SessionsByUser(e.ctx, e.acct.ID, userID, store.Page{Limit: store.MaxPageLimit})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ss
}

// with returns e for a subtest: its helpers fail t.
func (e *dashEnv) with(t testing.TB) *dashEnv {
	env := *e.env
	env.t = t
	return &dashEnv{env: &env, dash: e.dash}
}
