package sso

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Session lifetimes and limits.
const (
	// DefaultSessionTTL is how long a dashboard session token lives unless
	// WithSessionTTL says otherwise.
	DefaultSessionTTL = time.Hour
	// MaxSessionTTL is the longest session lifetime WithSessionTTL accepts.
	MaxSessionTTL = 24 * time.Hour
	// MaxSessionTokenLen is the longest token VerifySession parses, in bytes.
	MaxSessionTokenLen = 4096
	// maxMethodLen bounds a LoginMethod in a token.
	maxMethodLen = 32
	// sessionAudience is the aud claim of every session token.
	sessionAudience = "iamkit-dashboard"
)

// Session is a verified dashboard session: who, in which account, how they logged in. The
// JWT sessions of Sessions fill in the first fields; the server-side sessions of Dashboard
// all of them. It is a plain value.
type Session struct {
	// ID is a JWT's jti (128 random bits, base64url), or a server-side session's ID
	// ("ses_...").
	ID        string
	AccountID string
	UserID    string
	Method    LoginMethod
	IdPID     string // the IdP of an SSO session, empty otherwise
	IssuedAt  time.Time
	ExpiresAt time.Time // the absolute end; a server-side session also ends when idle

	// Server-side sessions only.
	SecondFactor SecondFactor // the second factor that confirmed the sign-in, if any
	UserAgent    string       // the browser's User-Agent when the session began
	IP           string       // the address the session began from
	LastSeenAt   time.Time    // when the session was last verified, to the minute
}

// SecondFactor is the second factor that confirmed a sign-in.
type SecondFactor string

// Second factors.
const (
	SecondFactorTOTP         SecondFactor = "totp"
	SecondFactorRecoveryCode SecondFactor = "recovery_code"
)

// Principal returns the session's user as the principal of dashboard actions. Its Subject
// is empty: read the user's email when an audit event needs it, or build the principal with
// identity.Directory.Principal.
func (s Session) Principal() identity.Principal {
	return identity.Principal{ID: s.UserID, Kind: identity.KindUser, AccountID: s.AccountID, Source: identity.SourceDashboard}
}

// sessionClaims is the JWT payload of a session.
type sessionClaims struct {
	jwt.RegisteredClaims
	AccountID string `json:"account_id"`
	Method    string `json:"login_method"`
	IdPID     string `json:"idp_id,omitempty"`
}

// Sessions issues and verifies dashboard session tokens: short-lived JWTs signed with EdDSA
// (Ed25519) or ES256 (ECDSA P-256) with a key the embedder passes. The algorithm is pinned
// to the signing key's: tokens with "none", HMAC or any other algorithm are rejected. Claims
// carry the account, the user, the login method and the IdP, so VerifySession can end a
// session whose login the account no longer allows (see VerifySession).
//
// A Sessions is immutable after NewSessions and safe for concurrent use.
type Sessions struct {
	svc    *Service
	signer crypto.Signer
	method jwt.SigningMethod
	kid    string
	keys   map[string]crypto.PublicKey // kid -> verification key, the signer's included
	ttl    time.Duration
	issuer string
	cookie string // the session cookie's name
}

// SessionOption configures Sessions.
type SessionOption func(*sessionConfig)

type sessionConfig struct {
	ttl    time.Duration
	issuer string
	cookie string
	verify []crypto.PublicKey
}

// WithSessionTTL sets the lifetime of new session tokens (default DefaultSessionTTL, at
// most MaxSessionTTL).
func WithSessionTTL(d time.Duration) SessionOption { return func(c *sessionConfig) { c.ttl = d } }

// WithSessionIssuer sets the iss claim that tokens carry and must carry (default "iamkit"):
// give each deployment its own so tokens of one are not accepted by another that shares a key.
func WithSessionIssuer(iss string) SessionOption { return func(c *sessionConfig) { c.issuer = iss } }

// WithVerificationKeys adds public keys that VerifySession also accepts, for key rotation:
// sign with the new key and keep the old one here until its tokens have expired. They must
// be of the signing key's algorithm.
func WithVerificationKeys(keys ...crypto.PublicKey) SessionOption {
	return func(c *sessionConfig) { c.verify = append(c.verify, keys...) }
}

// NewSessions returns Sessions that sign with key, an ed25519.PrivateKey (or any
// crypto.Signer with an Ed25519 public key, such as an HSM handle) for EdDSA, or an
// *ecdsa.PrivateKey on P-256 for ES256. The library never generates the key: load it from
// the embedder's secret store, and share it among the servers that verify sessions. A nil
// service or key is an error matching store.ErrInvalid that names it; an unusable key or
// option has code CodeConfigInvalid.
func NewSessions(svc *Service, key crypto.Signer, opts ...SessionOption) (*Sessions, error) {
	switch {
	case svc == nil:
		return nil, required("service")
	case key == nil:
		return nil, required("key")
	}
	c := sessionConfig{ttl: DefaultSessionTTL, issuer: "iamkit", cookie: DefaultSessionCookie}
	for _, o := range opts {
		o(&c)
	}
	if c.ttl <= 0 || c.ttl > MaxSessionTTL {
		return nil, configErr("session_ttl", "must be positive and at most 24h", nil)
	}
	if c.issuer == "" {
		return nil, configErr("session_issuer", "must not be empty", nil)
	}
	if err := checkSessionCookieName(c.cookie); err != nil {
		return nil, err
	}
	ss := &Sessions{svc: svc, signer: key, ttl: c.ttl, issuer: c.issuer, cookie: c.cookie, keys: map[string]crypto.PublicKey{}}
	var err error
	if ss.method, err = signingMethod(key); err != nil {
		return nil, err
	}
	if ss.kid, err = ss.addKey(key.Public()); err != nil {
		return nil, err
	}
	for _, pub := range c.verify {
		if _, err := ss.addKey(pub); err != nil {
			return nil, err
		}
	}
	return ss, nil
}

func signingMethod(key crypto.Signer) (jwt.SigningMethod, error) {
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return jwt.SigningMethodEdDSA, nil
	case *ecdsa.PublicKey:
		if _, ok := key.(*ecdsa.PrivateKey); !ok || pub.Curve != elliptic.P256() {
			return nil, configErr("key", "an ECDSA key must be an *ecdsa.PrivateKey on P-256 (ES256)", nil)
		}
		return jwt.SigningMethodES256, nil
	}
	return nil, configErr("key", "must be Ed25519 (EdDSA) or ECDSA P-256 (ES256)", nil)
}

// addKey registers a verification key under its key ID, checking it suits the algorithm.
func (ss *Sessions) addKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if ss.method != jwt.SigningMethodEdDSA || len(k) != ed25519.PublicKeySize {
			return "", configErr("verification_keys", "every key must be of the signing key's algorithm", nil)
		}
	case *ecdsa.PublicKey:
		if ss.method != jwt.SigningMethodES256 || k.Curve != elliptic.P256() {
			return "", configErr("verification_keys", "every key must be of the signing key's algorithm", nil)
		}
	default:
		return "", configErr("verification_keys", "must be ed25519.PublicKey or *ecdsa.PublicKey", nil)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", configErr("verification_keys", "unusable public key", nil)
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	ss.keys[kid] = pub
	return kid, nil
}

// IssueSession issues a session token for the user p in p.AccountID, who logged in with
// method (through the IdP idpID when method is MethodSSO; idpID must be empty otherwise).
// Bot principals are refused (store.ErrDenied, code ReasonBotUser), and so
// is any login the account's policy denies now: a missing or disabled membership, or a
// non-SSO method the account's enforcement rules out (see Service.LoginPolicy). Call it
// right after authenticating the user; for SSO logins prefer IssueLoginSession.
func (ss *Sessions) IssueSession(ctx context.Context, p identity.Principal, method LoginMethod, idpID string) (string, Session, error) {
	return ss.issue(ctx, p, method, idpID, time.Time{})
}

// IssueLoginSession issues the session of a completed SSO login, as IssueSession with
// MethodSSO and the login's IdP; it expires no later than the IdP's SessionNotOnOrAfter.
func (ss *Sessions) IssueLoginSession(ctx context.Context, l *Login) (string, Session, error) {
	return ss.issue(ctx, l.Principal(), MethodSSO, l.IdPID, l.SessionNotOnOrAfter)
}

func (ss *Sessions) issue(ctx context.Context, p identity.Principal, method LoginMethod, idpID string, notAfter time.Time) (string, Session, error) {
	if err := botuser.CanLogIn(p); err != nil {
		if store.CodeOf(err) == botuser.CodeNoDashboard {
			return "", Session{}, loginDenied(ReasonBotUser)
		}
		return "", Session{}, err
	}
	if err := p.Validate(); err != nil {
		return "", Session{}, err
	}
	if err := checkMethod(method, idpID); err != nil {
		return "", Session{}, store.Invalid("method", store.CodeInvalidValue, 0, "%s", err.Error())
	}
	err := ss.svc.st.View(ctx, func(r store.Reader) error {
		d, err := ss.svc.loginPolicy(ctx, r, p.AccountID, p.ID, method)
		if err != nil {
			return err
		}
		if err := d.Err(); err != nil {
			return err
		}
		if method == MethodSSO {
			return ss.svc.ssoSessionSource(ctx, r, p.AccountID, idpID)
		}
		return nil
	})
	if err != nil {
		return "", Session{}, err
	}
	jti, err := randomKey(ss.svc.rand)
	if err != nil {
		return "", Session{}, err
	}
	now := ss.svc.clock.Now().UTC().Truncate(time.Second)
	exp := now.Add(ss.ttl)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter.UTC().Truncate(time.Second)
		if !exp.After(now) {
			return "", Session{}, loginDenied(ReasonIdPSessionEnded)
		}
	}
	c := sessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: ss.issuer, Subject: p.ID, Audience: jwt.ClaimStrings{sessionAudience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp), ID: jti,
		},
		AccountID: p.AccountID, Method: string(method), IdPID: idpID,
	}
	tok := jwt.NewWithClaims(ss.method, c)
	tok.Header["kid"] = ss.kid
	signed, err := tok.SignedString(ss.signer)
	if err != nil {
		return "", Session{}, fmt.Errorf("sso: signing session: %w", err)
	}
	return signed, Session{ID: jti, AccountID: p.AccountID, UserID: p.ID, Method: method, IdPID: idpID, IssuedAt: now, ExpiresAt: exp}, nil
}

// ssoSessionSource checks that an SSO session's IdP still exists in the account and that
// the plan still includes SSO.
func (s *Service) ssoSessionSource(ctx context.Context, r store.Reader, accountID, idpID string) error {
	acct, err := r.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := s.requireSSO(acct); err != nil {
		return err
	}
	_, err = idpIn(ctx, r, accountID, idpID)
	return err
}

func checkMethod(method LoginMethod, idpID string) error {
	if method == "" || len(method) > maxMethodLen {
		return fmt.Errorf("1 to %d bytes of [a-z0-9_-]", maxMethodLen)
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("1 to %d bytes of [a-z0-9_-]", maxMethodLen)
		}
	}
	if method == MethodSSO {
		if id.Check(idpID, id.IdentityProvider) != nil {
			return errors.New("an SSO session needs the ID of its identity provider")
		}
	} else if idpID != "" {
		return errors.New("only SSO sessions name an identity provider")
	}
	return nil
}

// VerifySession checks a session token for the account accountID, the account the embedder
// is serving (from its URL, say, never from the token), and returns its session. accountID
// must be an account ID (store.ErrInvalid on field account_id otherwise).
//
// The token must be at most MaxSessionTokenLen bytes, signed by this Sessions' key (or a
// verification key) with the pinned algorithm, with this issuer and audience, issued in the
// past and not expired by the Service's clock, and issued for accountID: a session of
// another account is refused even when its user is a member of accountID too. Those
// failures match store.ErrUnauthenticated with code CodeSessionInvalid.
//
// It then re-checks, in the store, that the login is still allowed: the membership exists and
// is active, the account's current enforcement still permits the session's login method (a
// password-born session ends when the account switches to "enforced", and in "mixed" unless
// the member joined before SSO), and an SSO session's IdP still exists on a plan with SSO.
// Those failures match store.ErrUnauthenticated with code CodeSessionRevoked; when the login
// policy revoked it, the denying LoginReason is the error's cause (errors.As). Store failures
// are returned wrapped.
func (ss *Sessions) VerifySession(ctx context.Context, accountID, token string) (Session, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return Session{}, err
	}
	sess, err := ss.parse(token)
	if err != nil {
		return Session{}, err
	}
	if sess.AccountID != accountID {
		// Never valid here, rather than revoked: like a token of another issuer.
		return Session{}, invalidSession("session of another account", nil)
	}
	err = ss.svc.st.View(ctx, func(r store.Reader) error {
		d, err := ss.svc.loginPolicy(ctx, r, sess.AccountID, sess.UserID, sess.Method)
		if errors.Is(err, store.ErrNotFound) {
			return revokedSession("account not found", nil)
		} else if err != nil {
			return err
		}
		if !d.Allowed {
			return revokedSession("login policy: "+string(d.Method), d.Reason)
		}
		if sess.Method == MethodSSO {
			if err := ss.svc.ssoSessionSource(ctx, r, sess.AccountID, sess.IdPID); err != nil {
				if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrFeatureUnavailable) {
					return revokedSession("the identity provider or SSO is no longer available", nil)
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

// parse checks a token offline: size, signature, algorithm, registered claims and the shape
// of iamkit's claims.
func (ss *Sessions) parse(token string) (Session, error) {
	if len(token) > MaxSessionTokenLen {
		return Session{}, invalidSession("token too long", nil)
	}
	if token == "" {
		return Session{}, invalidSession("no token", nil)
	}
	alg := ss.method.Alg()
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithTimeFunc(ss.svc.clock.Now),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithIssuer(ss.issuer), jwt.WithAudience(sessionAudience),
		jwt.WithStrictDecoding(),
	)
	var c sessionClaims
	_, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method == nil || t.Method.Alg() != alg {
			return nil, errors.New("unexpected algorithm")
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := ss.keys[kid]
		if !ok {
			return nil, errors.New("unknown key ID")
		}
		return key, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Session{}, invalidSession("expired", nil)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return Session{}, invalidSession("signature, algorithm or key not accepted", err)
	case err != nil:
		return Session{}, invalidSession("rejected", err)
	}
	sess := Session{ID: c.ID, AccountID: c.AccountID, UserID: c.Subject, Method: LoginMethod(c.Method), IdPID: c.IdPID}
	if c.IssuedAt == nil || c.ExpiresAt == nil || c.ID == "" {
		return Session{}, invalidSession("missing claims", nil)
	}
	sess.IssuedAt, sess.ExpiresAt = c.IssuedAt.Time.UTC(), c.ExpiresAt.Time.UTC()
	if sess.ExpiresAt.Sub(sess.IssuedAt) > MaxSessionTTL {
		return Session{}, invalidSession("lifetime too long", nil)
	}
	if err := botuser.CanLogInID(sess.UserID); err != nil {
		return Session{}, invalidSession("subject is not a user", nil)
	}
	if id.Check(sess.AccountID, id.Account) != nil {
		return Session{}, invalidSession("bad account claim", nil)
	}
	if err := checkMethod(sess.Method, sess.IdPID); err != nil {
		return Session{}, invalidSession("bad login method claim", nil)
	}
	return sess, nil
}
