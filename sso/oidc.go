package sso

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// The protocols of identity providers (store.IdentityProvider.Protocol).
const (
	ProtocolSAML = "saml"
	ProtocolOIDC = "oidc"
)

// Limits on OIDC identity providers.
const (
	MaxClientIDLen     = 255
	MaxClientSecretLen = 1024
	MaxScopes          = 10
)

// The codes of a refused OIDC callback: each matches store.ErrUnauthenticated.
const (
	// CodeOIDCState: the callback's state is not the one of a login this browser began
	// (missing, used, expired, of another IdP, or login CSRF).
	CodeOIDCState = "oidc_state"
	// CodeOIDCError: the provider sent an error instead of a code (the user cancelled, the
	// client is misconfigured).
	CodeOIDCError = "oidc_error"
	// CodeOIDCExchange: the token endpoint refused the code (used, expired, issued to another
	// client, or the PKCE verifier does not match) or answered without an ID token.
	CodeOIDCExchange = "oidc_exchange"
	// CodeOIDCToken: the ID token failed go-oidc's checks: signature by the issuer's keys,
	// issuer, audience (the client ID), expiry.
	CodeOIDCToken = "oidc_id_token"
	// CodeOIDCNonce: the ID token's nonce is not the one of this login (a replayed token).
	CodeOIDCNonce = "oidc_nonce"
	// CodeOIDCDiscovery: the issuer's discovery document could not be read
	// (store.ErrUnavailable).
	CodeOIDCDiscovery = "oidc_discovery"
)

// OIDCParams describes a new OpenID Connect identity provider.
type OIDCParams struct {
	// Description is shown on the IdP chooser.
	Description string
	// Issuer is the provider's issuer URL (https; http on loopback for tests), as its
	// discovery document states it. It must be unique among the account's identity providers.
	Issuer string
	// ClientID and ClientSecret are iamkit's client at the provider, registered with
	// OIDCRedirectURL as its redirect URI.
	ClientID     string
	ClientSecret Secret
	// Scopes are asked for besides "openid" (default: email and profile; add "groups" for a
	// groups claim).
	Scopes []string
	// EmailClaim, NameClaim and GroupsClaim name the ID token's claims (default "email",
	// "name" and "groups"). The email must come with email_verified true.
	EmailClaim, NameClaim, GroupsClaim string
	// DefaultRoles and Domains are as for IdPParams: Domains must be verified by the account.
	DefaultRoles []string
	Domains      []string
}

// NewSecret wraps a secret the embedder hands the library (an OIDC client secret).
func NewSecret(s string) Secret { return newSecret(s) }

// CreateOIDCProvider adds an OpenID Connect identity provider to by's account, as
// CreateIdentityProvider adds a SAML one (rbac.SSOManage, identity.FeatureSSO, verified
// Domains, an identity_provider_created event without the client secret). The issuer is not
// contacted here: discovery happens at each login.
func (s *Service) CreateOIDCProvider(ctx context.Context, by identity.Principal, p OIDCParams) (store.IdentityProvider, error) {
	if err := by.Validate(); err != nil {
		return store.IdentityProvider{}, err
	}
	rec := store.IdentityProvider{
		AccountID: by.AccountID, Protocol: ProtocolOIDC, ClientID: strings.TrimSpace(p.ClientID),
		ClientSecret: p.ClientSecret.Reveal(), EmailAttribute: p.EmailClaim, NameAttribute: p.NameClaim, GroupsAttribute: p.GroupsClaim,
	}
	var err error
	if rec.Description, err = checkDescription(p.Description); err != nil {
		return store.IdentityProvider{}, err
	}
	if rec.EntityID, err = checkIssuer(p.Issuer); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := checkClient(rec.ClientID, rec.ClientSecret); err != nil {
		return store.IdentityProvider{}, err
	}
	if rec.Scopes, err = checkScopes(p.Scopes); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := checkAttributes(rec); err != nil {
		return store.IdentityProvider{}, err
	}
	if rec.Domains, err = normalizeDomains(p.Domains); err != nil {
		return store.IdentityProvider{}, err
	}
	return s.insertIdP(ctx, by, rec, p.DefaultRoles)
}

// OIDCRedirectURL is the redirect URI to register at an OIDC provider for one IdP of one
// account: "<base>/sso/<account_id>/<idp_id>/callback", which Handler serves.
func (s *Service) OIDCRedirectURL(accountID, idpID string) string {
	return s.base + "/sso/" + url.PathEscape(accountID) + "/" + url.PathEscape(idpID) + "/callback"
}

func isOIDC(p store.IdentityProvider) bool { return p.Protocol == ProtocolOIDC }

func checkIssuer(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	bad := store.Invalid("issuer", store.CodeInvalidValue, 0, "must be the provider's https issuer URL, without query or fragment")
	u, err := url.Parse(raw)
	if raw == "" {
		return "", store.Invalid("issuer", store.CodeRequired, 0, "required")
	}
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(raw) > 1024 {
		return "", bad
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "", bad
	}
	return raw, nil
}

func checkClient(clientID, secret string) error {
	switch {
	case clientID == "":
		return store.Invalid("client_id", store.CodeRequired, 0, "required")
	case len(clientID) > MaxClientIDLen:
		return store.Invalid("client_id", store.CodeTooLong, MaxClientIDLen, "%d bytes at most", MaxClientIDLen)
	case strings.ContainsFunc(clientID, isControl):
		return store.Invalid("client_id", store.CodeInvalidValue, 0, "must not contain control characters")
	case secret == "":
		return store.Invalid("client_secret", store.CodeRequired, 0, "required: iamkit is a confidential client")
	case len(secret) > MaxClientSecretLen:
		return store.Invalid("client_secret", store.CodeTooLong, MaxClientSecretLen, "%d bytes at most", MaxClientSecretLen)
	}
	return nil
}

var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]{1,64}$`) // RFC 6749 scope-token

func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return []string{"email", "profile"}, nil
	}
	if len(scopes) > MaxScopes {
		return nil, store.Invalid("scopes", store.CodeTooLong, MaxScopes, "%d scopes at most", MaxScopes)
	}
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if !scopeToken.MatchString(sc) {
			return nil, store.Invalid("scopes", store.CodeInvalidValue, 0, "each scope is a token of printable ASCII without spaces, quotes or backslashes")
		}
		if sc != oidc.ScopeOpenID && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// oidcStoreKey is the single-use key of an OIDC login in progress.
func oidcStoreKey(state string) string { return "sso:oidc:" + state }

// oidcState is what an OIDC login keeps server-side under its state.
type oidcState struct {
	AccountID string `json:"a"`
	IdPID     string `json:"i"`
	Nonce     string `json:"n"`
	Verifier  string `json:"v"`
	ReturnTo  string `json:"p"`
}

// oidcClient discovers the provider and returns its ID token verifier and iamkit's client.
func (s *Service) oidcClient(ctx context.Context, rec store.IdentityProvider) (*oidc.Provider, *oauth2.Config, error) {
	prov, err := oidc.NewProvider(ctx, rec.EntityID)
	if err != nil {
		return nil, nil, &store.Error{Kind: store.ErrUnavailable, Code: CodeOIDCDiscovery, Msg: "reading the OIDC provider's discovery document failed", Err: err}
	}
	cfg := &oauth2.Config{
		ClientID: rec.ClientID, ClientSecret: rec.ClientSecret, Endpoint: prov.Endpoint(),
		RedirectURL: s.OIDCRedirectURL(rec.AccountID, rec.ID), Scopes: append([]string{oidc.ScopeOpenID}, rec.Scopes...),
	}
	return prov, cfg, nil
}

// beginOIDC is BeginLogin for an OIDC provider: the authorization request with PKCE (S256),
// a nonce and a state, kept server-side under the state for the login TTL.
func (s *Service) beginOIDC(ctx context.Context, rec store.IdentityProvider, returnTo string) (*LoginRequest, error) {
	_, cfg, err := s.oidcClient(ctx, rec)
	if err != nil {
		return nil, err
	}
	state, err := randomKey(s.rand)
	if err != nil {
		return nil, err
	}
	nonce, err := randomKey(s.rand)
	if err != nil {
		return nil, err
	}
	verifier, err := pkceVerifier(s.rand)
	if err != nil {
		return nil, err
	}
	val, err := json.Marshal(oidcState{AccountID: rec.AccountID, IdPID: rec.ID, Nonce: nonce, Verifier: verifier, ReturnTo: returnTo})
	if err != nil {
		return nil, err
	}
	if err := s.st.PutSingleUse(ctx, oidcStoreKey(state), val, s.clock.Now().Add(s.loginTTL)); err != nil {
		return nil, fmt.Errorf("sso: storing the OIDC state: %w", err)
	}
	u := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	return &LoginRequest{RelayState: state, ReturnTo: returnTo, RedirectURL: u}, nil
}

// pkceVerifier returns an RFC 7636 code verifier: 32 random bytes, base64url (43 characters).
func pkceVerifier(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// OIDCCallback is the redirect from an OIDC provider to the callback of one IdP of one
// account.
type OIDCCallback struct {
	// AccountID and IdPID come from the callback URL.
	AccountID, IdPID string
	// State, Code and Error are the query's state, code and error parameters.
	State, Code, Error string
	// BrowserState is the state of the login the browser began (Handler keeps it in a
	// cookie): the callback is accepted only from that browser (login CSRF).
	BrowserState string
}

// CompleteOIDCLogin finishes an OIDC login: the state must be this browser's and of this
// IdP (CodeOIDCState), the code is exchanged at the token endpoint with the PKCE verifier
// (CodeOIDCExchange), the ID token is verified by go-oidc against the issuer's keys, issuer,
// audience and expiry by the Service's clock (CodeOIDCToken) and must carry the login's nonce
// (CodeOIDCNonce); its email must have email_verified true (ReasonEmailNotVerified). The
// subject then logs in or is provisioned exactly as a SAML subject (CompleteLogin): links by
// (IdP, sub), trusted and verified domains, invitations, just in time, bot users refused.
func (s *Service) CompleteOIDCLogin(ctx context.Context, in OIDCCallback) (*Login, error) {
	if err := checkIdPIDs(in.AccountID, in.IdPID); err != nil {
		return nil, err
	}
	st, err := s.takeOIDCState(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.Error != "" {
		return nil, respErr(CodeOIDCError, "the identity provider refused the sign-in")
	}
	acct, rec, err := s.oidcTarget(ctx, in.AccountID, in.IdPID)
	if err != nil {
		return nil, err
	}
	a, err := s.oidcAssertion(ctx, rec, in.Code, st)
	if err != nil {
		return nil, err
	}
	l, err := s.provision(ctx, acct, rec, assertedOf(a))
	if err != nil {
		return nil, err
	}
	l.ReturnTo = DefaultReturnPath
	if p, err := RelayStatePath(st.ReturnTo); err == nil {
		l.ReturnTo = p
	}
	s.log.InfoContext(ctx, "sso login", "account_id", l.AccountID, "user_id", l.UserID, "idp_id", l.IdPID, "protocol", ProtocolOIDC, "joined", l.Joined)
	return l, nil
}

// takeOIDCState checks the callback's state against the browser's and takes the login it
// names, which must be of this account and IdP.
func (s *Service) takeOIDCState(ctx context.Context, in OIDCCallback) (oidcState, error) {
	bad := respErr(CodeOIDCState, "OIDC callback without the state of a login this browser began")
	if !isRelayKey(in.State) || subtle.ConstantTimeCompare([]byte(in.State), []byte(in.BrowserState)) != 1 {
		return oidcState{}, bad
	}
	raw, err := s.st.TakeSingleUse(ctx, oidcStoreKey(in.State))
	if errors.Is(err, store.ErrNotFound) {
		return oidcState{}, bad
	} else if err != nil {
		return oidcState{}, fmt.Errorf("sso: reading the OIDC state: %w", err)
	}
	var st oidcState
	if err := json.Unmarshal(raw, &st); err != nil || st.AccountID != in.AccountID || st.IdPID != in.IdPID {
		return oidcState{}, bad
	}
	return st, nil
}

// oidcTarget reads the account (with SSO in its plan) and its OIDC identity provider.
func (s *Service) oidcTarget(ctx context.Context, accountID, idpID string) (store.Account, store.IdentityProvider, error) {
	var (
		acct store.Account
		rec  store.IdentityProvider
	)
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if acct, err = r.Account(ctx, accountID); err != nil {
			return fmt.Errorf("sso: account %s: %w", accountID, err)
		}
		if err := s.requireSSO(acct); err != nil {
			return err
		}
		if rec, err = idpIn(ctx, r, accountID, idpID); err != nil {
			return err
		}
		if !isOIDC(rec) {
			return fmt.Errorf("sso: identity provider %s is not an OIDC provider: %w", idpID, store.ErrNotFound)
		}
		return nil
	})
	return acct, rec, err
}

// oidcAssertion exchanges the code and verifies the ID token, returning what provisioning
// needs in the shape of a SAML assertion: the subject as NameID, the email, name and groups.
func (s *Service) oidcAssertion(ctx context.Context, rec store.IdentityProvider, code string, st oidcState) (*Assertion, error) {
	prov, cfg, err := s.oidcClient(ctx, rec)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, respErrCause(CodeOIDCExchange, "the token endpoint refused the code", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, respErr(CodeOIDCExchange, "the token response has no ID token")
	}
	idt, err := prov.Verifier(&oidc.Config{ClientID: rec.ClientID, Now: s.clock.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, respErrCause(CodeOIDCToken, "the ID token did not verify", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, respErr(CodeOIDCNonce, "the ID token's nonce is not this login's")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, respErrCause(CodeOIDCToken, "the ID token's claims are not a JSON object", err)
	}
	a := &Assertion{IdPID: rec.ID, IdPEntityID: idt.Issuer, NameID: idt.Subject,
		Email: stringClaim(claims, claimName(rec.EmailAttribute, "email")), Name: stringClaim(claims, claimName(rec.NameAttribute, "name")),
		Groups: stringsClaim(claims, claimName(rec.GroupsAttribute, "groups"))}
	if a.NameID == "" || len(a.NameID) > store.MaxSubjectLen {
		return nil, respErr(CodeOIDCToken, "the ID token's subject is empty or too long")
	}
	if a.Email == "" {
		return nil, respErr(CodeNoEmail, "the ID token carries no email")
	}
	if v, _ := claims["email_verified"].(bool); !v {
		return nil, loginDenied(ReasonEmailNotVerified)
	}
	return a, nil
}

func claimName(configured, def string) string {
	if configured != "" {
		return configured
	}
	return def
}

func stringClaim(claims map[string]any, name string) string {
	v, _ := claims[name].(string)
	return v
}

// stringsClaim reads a claim that is a list of strings (or one string).
func stringsClaim(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
