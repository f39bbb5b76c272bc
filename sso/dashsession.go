package sso

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Server-side sessions. A session is a store.Session of its account; the browser holds a
// token naming it (see token.go). Verifying one reads the session with its account, the
// membership, the user's secrets and its identity provider (store.Reader.SessionAuth) and
// re-checks everything that could have ended it since, so that every event that ends
// sessions does so at once, in its own transaction: a member disabled or removed (identity,
// which also deletes them), the login policy no longer allowing the session's method (SSO
// enforced, or mixed for a newer member), the identity provider deleted or SSO gone from the
// plan, a password changed or reset (store.UserSecrets.SessionsNotBefore). Sessions found
// ended are deleted when presented, pruned when their member signs in again, and an
// identity provider's are deleted in a first batch with it.

// sessionStart is a session about to begin.
type sessionStart struct {
	account  string
	user     store.User
	method   LoginMethod
	idpID    string
	groups   []string // the groups an SSO login's IdP asserted
	factor   SecondFactor
	client   Client
	notAfter time.Time // the latest end, or zero
	now      time.Time // when the session begins; zero: now
}

func sessionOf(x store.Session) Session {
	return Session{
		ID: x.ID, AccountID: x.AccountID, UserID: x.UserID, Method: LoginMethod(x.Method), IdPID: x.IdPID,
		IssuedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt, SecondFactor: SecondFactor(x.SecondFactor),
		UserAgent: x.UserAgent, IP: x.IP, LastSeenAt: x.LastSeenAt,
	}
}

// startSession begins a session, checking in its transaction that the user is an active
// member whose login the account's policy allows (and, for SSO, that the IdP and the plan's
// SSO are still there), pruning the member's ended sessions and the oldest beyond
// MaxSessionsPerMember, and recording sign_in_succeeded.
func (d *Dashboard) startSession(ctx context.Context, s sessionStart) (SignInResult, error) {
	if err := botuser.CanLogInID(s.user.ID); err != nil {
		return SignInResult{}, loginDenied(ReasonBotUser)
	}
	sid, err := d.svc.ids.NewIn(id.Session, s.account)
	if err != nil {
		return SignInResult{}, err
	}
	tok, hash, err := newSessionToken(d.svc.rand, sid)
	if err != nil {
		return SignInResult{}, err
	}
	now := s.now
	if now.IsZero() {
		now = d.now()
	}
	exp := now.Add(d.absolute)
	if !s.notAfter.IsZero() && s.notAfter.Before(exp) {
		if exp = s.notAfter.UTC(); !exp.After(now) {
			return SignInResult{}, loginDenied(ReasonIdPSessionEnded)
		}
	}
	rec := store.Session{
		ID: sid, AccountID: s.account, UserID: s.user.ID, SecretHash: hash, Method: string(s.method), IdPID: s.idpID,
		SecondFactor: string(s.factor), UserAgent: s.client.UserAgent, IP: s.client.IP,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: exp,
	}
	by := userPrincipal(s.account, s.user)
	err = d.svc.st.Update(ctx, func(tx store.Tx) error {
		if err := d.sessionAllowed(ctx, tx, s); err != nil {
			return err
		}
		if err := d.prune(ctx, tx, s, now, by); err != nil {
			return err
		}
		if err := tx.PutSession(ctx, rec); err != nil {
			return err
		}
		return d.svc.rec.Record(ctx, tx, s.account, identity.EventSignInSucceeded, by, SignInObject{
			ID: s.user.ID, Email: s.user.Email, Method: rec.Method, IdPID: rec.IdPID, SecondFactor: rec.SecondFactor,
			SessionID: rec.ID, IP: rec.IP, UserAgent: rec.UserAgent, Groups: slices.Clone(s.groups),
		})
	})
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Step: StepDone, Session: sessionOf(rec), Token: tok}, nil
}

// sessionAllowed checks, in the transaction that begins a session, that its login is allowed.
func (d *Dashboard) sessionAllowed(ctx context.Context, tx store.Tx, s sessionStart) error {
	acct, err := tx.Account(ctx, s.account)
	if err != nil {
		return fmt.Errorf("sso: account %s: %w", s.account, err)
	}
	m, err := tx.Membership(ctx, s.account, s.user.ID)
	if errors.Is(err, store.ErrNotFound) {
		return loginDenied(ReasonNotMember)
	} else if err != nil {
		return err
	}
	if err := d.svc.effectiveSettings(acct).LoginPolicy(m, s.method).Err(); err != nil {
		return err
	}
	if s.method == MethodSSO {
		return d.svc.ssoSessionSource(ctx, tx, s.account, s.idpID)
	}
	return nil
}

// prune deletes, as a session of s.user begins, the member's sessions that have ended (by
// time, or by a password change) and the oldest beyond MaxSessionsPerMember; live ones it
// ends record session_ended.
func (d *Dashboard) prune(ctx context.Context, tx store.Tx, s sessionStart, now time.Time, by store.Principal) error {
	ss, err := tx.SessionsByUser(ctx, s.account, s.user.ID, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	sec, err := found(tx.UserSecrets(ctx, s.user.ID))
	if err != nil {
		return err
	}
	live := 0
	for _, x := range ss { // newest first
		reason := ""
		switch {
		case d.timedOut(x, now) || sec != nil && x.CreatedAt.Before(sec.SessionsNotBefore):
		case live >= MaxSessionsPerMember-1:
			reason = EndSessionLimit
		default:
			live++
			continue
		}
		if err := tx.DeleteSession(ctx, x.ID); err != nil {
			return err
		}
		if reason != "" {
			if err := d.recordEnded(ctx, tx, x, reason, by); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *Dashboard) recordEnded(ctx context.Context, tx store.Tx, x store.Session, reason string, by store.Principal) error {
	obj := SessionObjectOf(sessionOf(x))
	obj.EndReason = reason
	return d.svc.rec.Record(ctx, tx, x.AccountID, identity.EventSessionEnded, by, obj)
}

// timedOut reports whether x has passed its absolute or idle end.
func (d *Dashboard) timedOut(x store.Session, now time.Time) bool {
	return !now.Before(x.ExpiresAt) || !now.Before(x.LastSeenAt.Add(d.idle))
}

// ended returns why the session of sa has ended, or nil if it is alive: its time (code
// CodeSessionInvalid), or something that happened since it began (CodeSessionRevoked).
func (d *Dashboard) ended(sa store.SessionAuth, now time.Time) error {
	x := sa.Session
	switch {
	case d.timedOut(x, now):
		return invalidSession("expired", nil)
	case sa.Membership == nil:
		return revokedSession("no longer a member", ReasonNotMember)
	case sa.Secrets != nil && x.CreatedAt.Before(sa.Secrets.SessionsNotBefore):
		return revokedSession("ended by a password change or reset", nil)
	case botuser.CanLogInID(x.UserID) != nil:
		return invalidSession("subject is not a user", nil)
	}
	if dec := d.svc.effectiveSettings(sa.Account).LoginPolicy(*sa.Membership, LoginMethod(x.Method)); !dec.Allowed {
		return revokedSession("login policy: "+string(dec.Method), dec.Reason)
	}
	if LoginMethod(x.Method) == MethodSSO && (sa.IdentityProvider == nil || d.svc.requireSSO(sa.Account) != nil) {
		return revokedSession("the identity provider or SSO is no longer available", nil)
	}
	return nil
}

// Verify checks a session token for the account accountID, the account the embedder is
// serving (from its URL, never from the token), and returns its session. The token must name
// a session of that account and carry its secret (compared in constant time); anything else
// is CodeSessionInvalid (store.ErrUnauthenticated), and so is a session past its idle or
// absolute end. A session that something has ended since it began is CodeSessionRevoked:
// its member disabled or removed, its login method no longer allowed by the account's SSO
// enforcement (the denying LoginReason is the error's cause), its identity provider deleted
// or SSO gone from the plan, or the user's password changed or reset. An ended session is
// deleted. At most once a minute, Verify records that the session was used (LastSeenAt), in
// a small write of its own.
func (d *Dashboard) Verify(ctx context.Context, accountID, token string) (Session, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return Session{}, err
	}
	pt, ok := parseSessionToken(token)
	if !ok {
		return Session{}, invalidSession("malformed token", nil)
	}
	var sa store.SessionAuth
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		sa, err = r.SessionAuth(ctx, pt.sessionID())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, invalidSession("unknown session", nil)
	} else if err != nil {
		return Session{}, err
	}
	var stored [32]byte
	if n, err := hex.Decode(stored[:], []byte(sa.Session.SecretHash)); err != nil || n != len(stored) ||
		subtle.ConstantTimeCompare(stored[:], pt.hash[:]) != 1 {
		return Session{}, invalidSession("unknown session", nil)
	}
	if sa.Session.AccountID != accountID {
		return Session{}, invalidSession("session of another account", nil)
	}
	now := d.now()
	if err := d.ended(sa, now); err != nil {
		d.discard(ctx, sa.Session)
		return Session{}, err
	}
	d.touch(ctx, sa.Session, now)
	return sessionOf(sa.Session), nil
}

// discard deletes an ended session. A failure is only logged: Verify refuses it anyway.
func (d *Dashboard) discard(ctx context.Context, x store.Session) {
	err := d.svc.st.Update(ctx, func(tx store.Tx) error {
		err := tx.DeleteSession(ctx, x.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		d.svc.log.WarnContext(ctx, "sso: deleting an ended session", "session_id", x.ID, "error", err)
	}
}

// touch records that x was used at now, if it was last recorded a minute ago or more.
func (d *Dashboard) touch(ctx context.Context, x store.Session, now time.Time) {
	if now.Sub(x.LastSeenAt) < lastSeenEvery {
		return
	}
	err := d.svc.st.Update(ctx, func(tx store.Tx) error {
		cur, err := tx.Session(ctx, x.ID)
		if errors.Is(err, store.ErrNotFound) || err == nil && now.Sub(cur.LastSeenAt) < lastSeenEvery {
			return nil
		} else if err != nil {
			return err
		}
		cur.LastSeenAt = now
		return tx.PutSession(ctx, cur)
	})
	if err != nil {
		d.svc.log.WarnContext(ctx, "sso: recording a session's use", "session_id", x.ID, "error", err)
	}
}

// CheckRequest refuses a state-changing request (any method but GET, HEAD and OPTIONS) that
// a browser sent from another origin, with http.CrossOriginProtection (Sec-Fetch-Site, or
// Origin against Host): store.ErrDenied, code CodeCrossOrigin. Call it on the sign-in
// endpoints, which have no session yet; VerifyRequest calls it for every other.
func (d *Dashboard) CheckRequest(r *http.Request) error {
	if err := d.cop.Check(r); err != nil {
		return &store.Error{Kind: store.ErrDenied, Code: CodeCrossOrigin, Msg: "cross-origin request refused", Err: err}
	}
	return nil
}

// VerifyRequest verifies the session cookie of r for the account accountID, as Verify, after
// CheckRequest: with the cookie's SameSite=Lax, that is the dashboard's protection against
// cross-site request forgery. A missing cookie is CodeSessionInvalid.
func (d *Dashboard) VerifyRequest(r *http.Request, accountID string) (Session, error) {
	if err := d.CheckRequest(r); err != nil {
		return Session{}, err
	}
	c, err := r.Cookie(d.cookie)
	if err != nil {
		return Session{}, invalidSession("no session cookie", nil)
	}
	return d.Verify(r.Context(), accountID, c.Value)
}

// Handler returns h behind http.CrossOriginProtection (with the trusted origins of
// WithTrustedOrigins): state-changing requests from other origins get 403 Forbidden.
func (d *Dashboard) Handler(h http.Handler) http.Handler { return d.cop.Handler(h) }

// SetCookie sets the session cookie of a session: the configured "__Host-" name, the token,
// Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, expiring with the session's absolute
// end.
func (d *Dashboard) SetCookie(w http.ResponseWriter, token Secret, s Session) {
	http.SetCookie(w, &http.Cookie{
		Name: d.cookie, Value: token.Reveal(), Path: "/", Expires: s.ExpiresAt,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// ClearCookie removes the session cookie (after SignOut).
func (d *Dashboard) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: d.cookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// IssueLoginSession begins the session of a completed SSO login (CompleteLogin), with
// MethodSSO and the login's IdP, ending no later than the IdP's SessionNotOnOrAfter. The
// account's require-second-factor setting does not apply: the IdP authenticates. It records
// sign_in_succeeded, with the groups the IdP asserted.
func (d *Dashboard) IssueLoginSession(ctx context.Context, l *Login, c Client) (SignInResult, error) {
	if l == nil {
		return SignInResult{}, required("login")
	}
	u := store.User{ID: l.UserID, Email: l.Email}
	return d.startSession(ctx, sessionStart{account: l.AccountID, user: u, method: MethodSSO, idpID: l.IdPID,
		groups: l.Groups, client: c.canonical(), notAfter: l.SessionNotOnOrAfter})
}

// IssueSession begins a session of the user p after a login of the embedder's own (an OAuth
// provider, say) with method, which must not be MethodPassword or MethodSSO: the login
// policy applies as to any method but SSO. Bot principals are refused (ReasonBotUser).
func (d *Dashboard) IssueSession(ctx context.Context, p identity.Principal, method LoginMethod, c Client) (SignInResult, error) {
	if err := botuser.CanLogIn(p); err != nil {
		if store.CodeOf(err) == botuser.CodeNoDashboard {
			return SignInResult{}, loginDenied(ReasonBotUser)
		}
		return SignInResult{}, err
	}
	if err := p.Validate(); err != nil {
		return SignInResult{}, err
	}
	if method == MethodPassword || method == MethodSSO || checkMethod(method, "") != nil {
		return SignInResult{}, store.Invalid("method", store.CodeInvalidValue, 0, "an embedder's own login method of [a-z0-9_-], not password or sso")
	}
	var u store.User
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		var err error
		u, err = r.User(ctx, p.ID)
		return err
	})
	if err != nil {
		return SignInResult{}, err
	}
	return d.startSession(ctx, sessionStart{account: p.AccountID, user: u, method: method, client: c.canonical()})
}

// CookieLogin returns a LoginFunc for Handler that begins a server-side session for each
// completed SSO login (IssueLoginSession), sets its cookie (SetCookie) and redirects to the
// login's return path with 303 See Other. Failures are error pages, as Handler.Error writes
// them.
func (d *Dashboard) CookieLogin() LoginFunc {
	return func(w http.ResponseWriter, r *http.Request, l *Login) {
		res, err := d.IssueLoginSession(r.Context(), l, ClientOf(r))
		if err != nil {
			d.svc.writeError(w, r, err)
			return
		}
		d.SetCookie(w, res.Token, res.Session)
		returnTo, err := RelayStatePath(l.ReturnTo)
		if err != nil {
			returnTo = DefaultReturnPath
		}
		securityHeaders(w, "")
		w.Header().Set("Location", returnTo)
		w.WriteHeader(http.StatusSeeOther)
	}
}

// SignOut ends the session s (as Verify returned it) and records session_ended. A session
// already ended is not an error.
func (d *Dashboard) SignOut(ctx context.Context, s Session) error {
	if err := id.CheckArg("session_id", s.ID, id.Session); err != nil {
		return err
	}
	return d.svc.st.Update(ctx, func(tx store.Tx) error {
		x, err := tx.Session(ctx, s.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if x.AccountID != s.AccountID || x.UserID != s.UserID {
			return nil
		}
		u, err := tx.User(ctx, x.UserID)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, x.ID); err != nil {
			return err
		}
		return d.recordEnded(ctx, tx, x, EndSignedOut, userPrincipal(x.AccountID, u))
	})
}

// Sessions lists a member's live sessions in by's account, newest first: at most p.Limit of
// them created before p.BeforeID (a session ID). A member lists its own; anyone else needs
// rbac.MembersRead. Ended sessions are left out.
func (d *Dashboard) Sessions(ctx context.Context, by identity.Principal, userID string, p store.Page) ([]Session, error) {
	if err := by.Validate(); err != nil {
		return nil, err
	}
	if err := id.CheckArg("user_id", userID, id.User); err != nil {
		return nil, err
	}
	if err := id.CheckPage(p, id.Session); err != nil {
		return nil, err
	}
	now := d.now()
	out := []Session{}
	err := d.svc.st.View(ctx, func(r store.Reader) error {
		if !isSelf(by, userID) {
			if err := d.svc.authz.RequireIn(ctx, r, by, rbac.MembersRead); err != nil {
				return err
			}
		}
		base := store.SessionAuth{}
		var err error
		if base.Account, err = r.Account(ctx, by.AccountID); err != nil {
			return err
		}
		if base.Membership, err = found(r.Membership(ctx, by.AccountID, userID)); err != nil {
			return err
		}
		if base.Membership == nil {
			return fmt.Errorf("sso: member %s: %w", userID, store.ErrNotFound)
		}
		if base.Secrets, err = found(r.UserSecrets(ctx, userID)); err != nil {
			return err
		}
		idps := map[string]*store.IdentityProvider{}
		page := store.Page{BeforeID: p.BeforeID, Limit: store.MaxPageLimit}
		for {
			ss, err := r.SessionsByUser(ctx, by.AccountID, userID, page)
			if err != nil {
				return err
			}
			for _, x := range ss {
				sa := base
				sa.Session = x
				if x.IdPID != "" {
					if _, ok := idps[x.IdPID]; !ok {
						if idps[x.IdPID], err = found(idpIn(ctx, r, by.AccountID, x.IdPID)); err != nil {
							return err
						}
					}
					sa.IdentityProvider = idps[x.IdPID]
				}
				if d.ended(sa, now) == nil {
					out = append(out, sessionOf(x))
				}
				if len(out) == p.Limit {
					return nil
				}
			}
			if len(ss) < page.Limit {
				return nil
			}
			page.BeforeID = ss[len(ss)-1].ID
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func isSelf(by identity.Principal, userID string) bool {
	return by.Kind == identity.KindUser && by.ID == userID
}

// mayEndSessionsOf checks that by may end userID's sessions in by's account: a member its own;
// anyone else whoever may disable that member (rbac.MembersManage, and an administrator's
// sessions only an administrator).
func (d *Dashboard) mayEndSessionsOf(ctx context.Context, tx store.Tx, by identity.Principal, userID string) error {
	if isSelf(by, userID) {
		return nil
	}
	acct, err := tx.Account(ctx, by.AccountID)
	if err != nil {
		return fmt.Errorf("sso: account %s: %w", by.AccountID, err)
	}
	m, err := found(tx.Membership(ctx, by.AccountID, userID))
	if err != nil {
		return err
	}
	return d.svc.authz.Permit(ctx, tx, identity.Change{Op: identity.OpDisableMember, By: by, Account: acct, Member: m})
}

// EndSession ends one session of by's account and records session_ended: a member ends its
// own; anyone else needs what disabling its member needs (rbac.MembersManage, and to be an
// administrator for an administrator's). A session of another account is not found.
func (d *Dashboard) EndSession(ctx context.Context, by identity.Principal, sessionID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	if err := id.CheckArg("session_id", sessionID, id.Session); err != nil {
		return err
	}
	return d.svc.st.Update(ctx, func(tx store.Tx) error {
		x, err := tx.Session(ctx, sessionID)
		if err == nil && x.AccountID != by.AccountID {
			err = store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("sso: session %s: %w", sessionID, err)
		}
		if err := d.mayEndSessionsOf(ctx, tx, by, x.UserID); err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, x.ID); err != nil {
			return err
		}
		return d.recordEnded(ctx, tx, x, EndEnded, by.Audit())
	})
}

// EndSessions ends every session of a member in by's account (the current one too, if it is
// the member's own) and records session_ended for each; it returns how many. A member ends
// its own ("sign out everywhere"); anyone else needs what disabling the member needs
// (rbac.MembersManage, and to be an administrator for an administrator's).
func (d *Dashboard) EndSessions(ctx context.Context, by identity.Principal, userID string) (int, error) {
	if err := by.Validate(); err != nil {
		return 0, err
	}
	if err := id.CheckArg("user_id", userID, id.User); err != nil {
		return 0, err
	}
	n := 0
	err := d.svc.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Membership(ctx, by.AccountID, userID); err != nil {
			return fmt.Errorf("sso: member %s: %w", userID, err)
		}
		if err := d.mayEndSessionsOf(ctx, tx, by, userID); err != nil {
			return err
		}
		ended, err := members.EndSessions(ctx, tx, by.AccountID, userID)
		if err != nil {
			return err
		}
		for _, x := range ended {
			if err := d.recordEnded(ctx, tx, x, EndEnded, by.Audit()); err != nil {
				return err
			}
		}
		n = len(ended)
		return nil
	})
	return n, err
}
