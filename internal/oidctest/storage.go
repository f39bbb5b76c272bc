package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// accessTokenLifetime is how long an access token is good for at the userinfo endpoint.
const accessTokenLifetime = 5 * time.Minute

// loginPath is where the login page is served, relative to the issuer.
const loginPath = "/login"

// errNotFound answers a lookup of an unknown auth request, code, client or token.
var errNotFound = errors.New("oidctest: not found")

// storage is the op.Storage of a provider: users, clients, pending auth requests, codes and
// access tokens in memory, and the signing key.
type storage struct {
	key signingKey

	mu       sync.Mutex
	users    map[string]User   // by subject
	logins   map[string]string // login name -> subject
	clients  map[string]Client // by ID
	requests map[string]*authRequest
	codes    map[string]string // code -> auth request ID
	tokens   map[string]accessToken
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func newStorage() (*storage, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &storage{
		key:      signingKey{id: randomID(), key: k},
		users:    map[string]User{},
		logins:   map[string]string{},
		clients:  map[string]Client{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]accessToken{},
	}, nil
}

func (s *storage) addUser(u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	u.Groups = slices.Clone(u.Groups)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Subject]; ok {
		return fmt.Errorf("%w: User.Subject %q is taken", ErrInvalid, u.Subject)
	}
	if _, ok := s.logins[u.login()]; ok {
		return fmt.Errorf("%w: user %q: login name %q is taken", ErrInvalid, u.Subject, u.login())
	}
	s.users[u.Subject] = u
	s.logins[u.login()] = u.Subject
	return nil
}

func (s *storage) setUser(u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	u.Groups = slices.Clone(u.Groups)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[u.Subject]
	if !ok {
		return fmt.Errorf("%w: no user with Subject %q", ErrInvalid, u.Subject)
	}
	if sub, taken := s.logins[u.login()]; taken && sub != u.Subject {
		return fmt.Errorf("%w: user %q: login name %q is taken", ErrInvalid, u.Subject, u.login())
	}
	delete(s.logins, old.login())
	s.users[u.Subject] = u
	s.logins[u.login()] = u.Subject
	return nil
}

func (s *storage) addClient(c Client) error {
	if err := checkClient(c); err != nil {
		return err
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("%w: Client.ID %q is taken", ErrInvalid, c.ID)
	}
	s.clients[c.ID] = c
	return nil
}

// signIn checks a login name and password against the users and, when they match, marks the
// auth request id as done by that user. It reports whether the request exists and whether
// the credentials matched.
func (s *storage) signIn(id, login, password string) (found, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, found := s.requests[id]
	if !found {
		return false, false
	}
	u, known := s.users[s.logins[login]]
	// Compare even for an unknown login, so that both answers take the same time.
	match := subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
	if !known || !match {
		return true, false
	}
	req.subject, req.authTime, req.done = u.Subject, time.Now(), true
	return true, true
}

// CreateAuthRequest stores a new authorization request; it refuses one without PKCE (S256).
func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	req := &authRequest{
		id: randomID(), clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State,
		nonce: r.Nonce, scopes: slices.Clone(r.Scopes), responseType: r.ResponseType,
		responseMode: r.ResponseMode,
		challenge:    &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[req.id] = req
	return req.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok {
		return nil, fmt.Errorf("auth request: %w", errNotFound)
	}
	return req.clone(), nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets a request and its code, so that a code is used once.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	var clientID string
	if ar, ok := r.(*authRequest); ok {
		clientID = ar.clientID
	}
	t := accessToken{
		id: randomID(), clientID: clientID, subject: r.GetSubject(),
		scopes: slices.Clone(r.GetScopes()), expires: time.Now().Add(accessTokenLifetime),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.id] = t
	return t.id, t.expires, nil
}

var errNoRefresh = errors.New("oidctest: refresh tokens are not supported")

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNoRefresh
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNoRefresh
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(_ context.Context, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == subject && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token was not issued to this client")
		}
		delete(s.tokens, tokenID)
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return &s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{&s.key}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client: %w", errNotFound)
	}
	return client{id: c.ID, redirectURIs: slices.Clone(c.RedirectURIs)}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("oidctest: unknown client or wrong secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the user's claims into the ID token.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, r.GetSubject(), scopes)
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	t, err := s.liveToken(tokenID)
	if err != nil {
		return err
	}
	return s.setUserinfo(info, t.subject, t.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, clientID string) error {
	t, err := s.liveToken(tokenID)
	if err != nil {
		return err
	}
	if t.clientID != clientID {
		return errors.New("oidctest: the token was not issued to this client")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, t.subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope, resp.ClientID, resp.Expiration = t.scopes, t.clientID, oidc.FromTime(t.expires)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidctest: JWT profile client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidctest: the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// liveToken returns an access token that exists and has not expired.
func (s *storage) liveToken(id string) (accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || time.Now().After(t.expires) {
		return accessToken{}, fmt.Errorf("access token: %w", errNotFound)
	}
	return t, nil
}

// setUserinfo fills info with the claims of subject that scopes release.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("user: %w", errNotFound)
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeOpenID:
			info.Subject = u.Subject
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		case oidc.ScopeProfile:
			info.Name, info.PreferredUsername = u.Name, u.login()
		case ScopeGroups:
			info.AppendClaims("groups", slices.Clone(u.Groups))
		}
	}
	return nil
}

// authRequest is a pending authorization request; it implements op.AuthRequest.
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes                                  []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge

	subject  string
	authTime time.Time
	done     bool
}

// clone copies r, so the provider never holds a value the storage changes under its lock.
func (r *authRequest) clone() *authRequest {
	c := *r
	c.scopes = slices.Clone(r.scopes)
	if r.challenge != nil {
		ch := *r.challenge
		c.challenge = &ch
	}
	return &c
}

func (r *authRequest) GetID() string                         { return r.id }
func (r *authRequest) GetACR() string                        { return "" }
func (r *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (r *authRequest) GetAudience() []string                 { return []string{r.clientID} }
func (r *authRequest) GetAuthTime() time.Time                { return r.authTime }
func (r *authRequest) GetClientID() string                   { return r.clientID }
func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return r.challenge }
func (r *authRequest) GetNonce() string                      { return r.nonce }
func (r *authRequest) GetRedirectURI() string                { return r.redirectURI }
func (r *authRequest) GetResponseType() oidc.ResponseType    { return r.responseType }
func (r *authRequest) GetResponseMode() oidc.ResponseMode    { return r.responseMode }
func (r *authRequest) GetScopes() []string                   { return r.scopes }
func (r *authRequest) GetState() string                      { return r.state }
func (r *authRequest) GetSubject() string                    { return r.subject }
func (r *authRequest) Done() bool                            { return r.done }

// accessToken is an issued access token, known by its ID.
type accessToken struct {
	id, clientID, subject string
	scopes                []string
	expires               time.Time
}

// client is a registered client as the provider sees it; it implements op.Client.
type client struct {
	id           string
	redirectURIs []string
}

func (c client) GetID() string                    { return c.id }
func (c client) RedirectURIs() []string           { return c.redirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return nil }
func (c client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) LoginURL(id string) string           { return loginPath + "?authRequestID=" + id }
func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return time.Hour }
func (c client) DevMode() bool                       { return false }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the userinfo claims into the ID token even though an
// access token is issued too, so a client reads them from the verified ID token.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }

// signingKey is the provider's RSA key; it implements op.SigningKey.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is the public half of the signing key, as jwks_uri publishes it.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
