package sso

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/internal/members"
	"github.com/iamkit/iamkit/store"
)

// relayKeyLen is the length of a RelayState key: 128 random bits, base64url without padding.
const relayKeyLen = 22

func relayStoreKey(key string) string { return "sso:relay:" + key }

// relayValue is what a RelayState key stands for, kept server-side.
type relayValue struct {
	AccountID string `json:"a"`
	IdPID     string `json:"i"`
	RequestID string `json:"r"`
	ReturnTo  string `json:"p"`
}

// IdPChoice is one identity provider offered on the login chooser.
type IdPChoice struct {
	ID          string
	Description string // the IdP's description, or its entity ID when it has none
}

// LoginChoices lists the identity providers a user may log into accountID with, newest
// first, for a chooser page. It fails with an error matching store.ErrFeatureUnavailable
// when the account's plan has no SSO. The descriptions are public: the chooser is shown
// before anyone has logged in, so it checks no permission.
func (s *Service) LoginChoices(ctx context.Context, accountID string) ([]IdPChoice, error) {
	if err := id.CheckArg("account_id", accountID, id.Account); err != nil {
		return nil, err
	}
	var out []IdPChoice
	err := s.st.View(ctx, func(r store.Reader) error {
		acct, err := r.Account(ctx, accountID)
		if err != nil {
			return fmt.Errorf("sso: account %s: %w", accountID, err)
		}
		if err := s.requireSSO(acct); err != nil {
			return err
		}
		ps, err := r.IdentityProviders(ctx, accountID, store.Page{Limit: MaxIdentityProviders})
		if err != nil {
			return err
		}
		for _, p := range ps {
			out = append(out, choiceOf(p))
		}
		return nil
	})
	return out, err
}

// choiceOf is an IdP as the chooser shows it.
func choiceOf(p store.IdentityProvider) IdPChoice {
	c := IdPChoice{ID: p.ID, Description: p.Description}
	if c.Description == "" {
		c.Description = p.EntityID
	}
	return c
}

// LoginRequest is an SP-initiated login in progress. For a SAML IdP, send the browser to the
// IdP with AuthnRequest.RedirectURL(RelayState) (or PostFormHTML); for an OIDC provider,
// AuthnRequest is nil and RedirectURL is the authorization request. Keep RelayState (the
// OIDC state) in the browser too (Handler uses a cookie) to pass it back as
// ACSRequest.BrowserState or OIDCCallback.BrowserState.
type LoginRequest struct {
	AuthnRequest *AuthnRequest
	// RedirectURL is an OIDC provider's authorization request (code flow with PKCE S256, a
	// nonce and the state), "" for SAML.
	RedirectURL string
	// RelayState is an opaque random key (22 characters); the return path is kept
	// server-side under it, bound to the request, until the response arrives.
	RelayState string
	// ReturnTo is the path the login will land on.
	ReturnTo string
}

// BeginLogin starts an SP-initiated login of accountID through the IdP idpID: it builds an
// AuthnRequest, tracks its ID as a single-use key bound to the IdP, and stores returnTo
// under a fresh RelayState key, for the login TTL. returnTo must be a relative path that
// RelayStatePath accepts (an error matching store.ErrInvalid for field return_to otherwise);
// empty means DefaultReturnPath. It is the start of a login: it checks no permission.
func (s *Service) BeginLogin(ctx context.Context, accountID, idpID, returnTo string) (*LoginRequest, error) {
	if err := checkIdPIDs(accountID, idpID); err != nil {
		return nil, err
	}
	if returnTo == "" {
		returnTo = DefaultReturnPath
	} else if _, err := RelayStatePath(returnTo); err != nil {
		return nil, store.Invalid("return_to", CodeRelayStateUnsafe, 0, "must be a path on this site such as /dashboard (at most 1024 bytes)")
	}
	lt, err := s.loginTarget(ctx, accountID, idpID)
	if err != nil {
		return nil, err
	}
	if isOIDC(lt.rec) {
		return s.beginOIDC(ctx, lt.rec, returnTo)
	}
	req, err := lt.sp.NewAuthnRequest(s.rand, s.clock, lt.cfg.Metadata)
	if err != nil {
		return nil, err
	}
	if err := s.v.TrackRequest(ctx, req); err != nil {
		return nil, err
	}
	key, err := randomKey(s.rand)
	if err != nil {
		return nil, err
	}
	val, err := json.Marshal(relayValue{AccountID: accountID, IdPID: idpID, RequestID: req.ID, ReturnTo: returnTo})
	if err != nil {
		return nil, err
	}
	if err := s.st.PutSingleUse(ctx, relayStoreKey(key), val, s.clock.Now().Add(s.loginTTL)); err != nil {
		return nil, fmt.Errorf("sso: storing RelayState: %w", err)
	}
	return &LoginRequest{AuthnRequest: req, RelayState: key, ReturnTo: returnTo}, nil
}

func randomKey(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func isRelayKey(s string) bool {
	if len(s) != relayKeyLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// target is what both halves of a login need: the account, the IdP record, our SP for that
// IdP and the Validator's view of the IdP.
type target struct {
	acct store.Account
	rec  store.IdentityProvider
	sp   *ServiceProvider
	cfg  *IdentityProvider
}

// loginTarget reads the account and its IdP, checking the plan allows SSO, and derives the
// SP and validator configuration for them.
func (s *Service) loginTarget(ctx context.Context, accountID, idpID string) (target, error) {
	var t target
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if t.acct, err = r.Account(ctx, accountID); err != nil {
			return fmt.Errorf("sso: account %s: %w", accountID, err)
		}
		if err := s.requireSSO(t.acct); err != nil {
			return err
		}
		t.rec, err = idpIn(ctx, r, accountID, idpID)
		return err
	})
	if err != nil || isOIDC(t.rec) {
		return t, err // an OIDC provider has no SAML side: BeginLogin hands it to beginOIDC
	}
	if t.sp, err = s.spFor(t.rec); err != nil {
		return target{}, err
	}
	if t.cfg, err = validatorIdP(t.rec); err != nil {
		return target{}, err
	}
	return t, nil
}

// ACSRequest is a SAML response posted to the ACS URL of one IdP of one account.
type ACSRequest struct {
	// AccountID and IdPID come from the ACS URL the response was posted to, never from the
	// response.
	AccountID, IdPID string
	// SAMLResponse and RelayState are the posted form values.
	SAMLResponse, RelayState string
	// BrowserState is the RelayState of the login the posting browser began, as kept in
	// that browser (Handler keeps it in a cookie). An SP-initiated response is accepted only
	// if it equals RelayState: this binds the response to the browser that started the login,
	// so nobody can log a victim's browser into the attacker's identity (login CSRF).
	// IdP-initiated responses carry no such binding, which is why they are off by default.
	BrowserState string
}

// Login is a completed SSO login: who logged in, into which account, through which IdP, and
// where to send them. It is a new value the caller owns.
type Login struct {
	AccountID string
	UserID    string
	Email     string // normalised
	Name      string
	IdPID     string
	NameID    string
	Groups    []string
	// ReturnTo is the relative path to send the user to: the one given to BeginLogin, an
	// IdP-initiated RelayState that RelayStatePath accepts, or DefaultReturnPath.
	ReturnTo     string
	IdPInitiated bool
	// UserCreated and Joined say whether this login created the user and its membership
	// (just-in-time provisioning, or an accepted invitation).
	UserCreated, Joined bool
	// SessionNotOnOrAfter is the IdP's cap on the session (AuthnStatement
	// SessionNotOnOrAfter), or zero.
	SessionNotOnOrAfter time.Time
}

// Principal returns the user of the login as the principal of a dashboard session.
func (l *Login) Principal() identity.Principal {
	return identity.Principal{ID: l.UserID, Kind: identity.KindUser, AccountID: l.AccountID, Subject: l.Email, Source: identity.SourceDashboard}
}

// CompleteLogin checks a SAML response posted to the ACS URL of one IdP and lets its user
// into the account:
//
//  1. the response is validated by the Validator against that IdP (the SAML checklist:
//     signatures, audience, recipient, time, request ID bound to the IdP, replay cache,
//     IdP-initiated only if the IdP allows it); failures match store.ErrUnauthenticated
//     with the code of the failed check (CodeSignature, CodeAudience, ...);
//  2. an SP-initiated response must come with the RelayState of its own request and from
//     the browser that began it (ACSRequest.BrowserState); IdP-initiated RelayState is used
//     only as a relative path;
//  3. the user is found or provisioned. The asserted email must be in one of the IdP's
//     trusted Domains: only then does the email link the (IdP, NameID) to iamkit's user with
//     that email. An existing active member logs in; a disabled one is refused. Otherwise a
//     pending invitation for the email is accepted (both modes); without one, "jit"
//     provisioning creates the user and a membership with the IdP's default roles, within
//     the plan's seats (store.ErrLimitExceeded, code identity.CodeSeatLimit), and
//     "invite_only" refuses;
//  4. bot users never log in: an email equal to the name of a bot user of the account is
//     refused, and so is any principal that is not a user.
//
// Refusals in step 2 have code CodeRelayState; in steps 3 and 4 they match store.ErrDenied
// with the LoginReason as code (a seat limit is identity.CodeSeatLimit); store failures are
// returned wrapped. It is a login: it checks no principal's permission.
func (s *Service) CompleteLogin(ctx context.Context, in ACSRequest) (*Login, error) {
	if err := checkIdPIDs(in.AccountID, in.IdPID); err != nil {
		return nil, err
	}
	// The message alone first: a hostile one costs no store read and no metadata parse.
	msg, err := s.v.screen(in.SAMLResponse)
	if err != nil {
		return nil, err
	}
	lt, err := s.loginTarget(ctx, in.AccountID, in.IdPID)
	if err != nil {
		return nil, err
	}
	if isOIDC(lt.rec) {
		return nil, fmt.Errorf("sso: identity provider %s takes no SAML response: %w", in.IdPID, store.ErrNotFound)
	}
	a, err := s.v.validate(ctx, lt.sp, lt.cfg, msg)
	if err != nil {
		return nil, err
	}
	returnTo, err := s.returnPath(ctx, in, a)
	if err != nil {
		return nil, err
	}
	l, err := s.provision(ctx, lt.acct, lt.rec, assertedOf(a))
	if err != nil {
		return nil, err
	}
	l.ReturnTo = returnTo
	s.log.InfoContext(ctx, "sso login", "account_id", l.AccountID, "user_id", l.UserID, "idp_id", l.IdPID,
		"idp_initiated", l.IdPInitiated, "joined", l.Joined)
	return l, nil
}

// returnPath resolves where a login lands, enforcing the RelayState binding of SP-initiated
// responses.
func (s *Service) returnPath(ctx context.Context, in ACSRequest, a *Assertion) (string, error) {
	if a.IdPInitiated {
		if p, err := RelayStatePath(in.RelayState); err == nil {
			return p, nil
		}
		if in.RelayState != "" {
			s.log.DebugContext(ctx, "sso: ignoring an unsafe IdP-initiated RelayState", "idp_id", in.IdPID)
		}
		return DefaultReturnPath, nil
	}
	bad := respErr(CodeRelayState, "SP-initiated response without the RelayState of its request from the browser that began it")
	if !isRelayKey(in.RelayState) ||
		subtle.ConstantTimeCompare([]byte(in.RelayState), []byte(in.BrowserState)) != 1 {
		return "", bad
	}
	raw, err := s.st.TakeSingleUse(ctx, relayStoreKey(in.RelayState))
	if errors.Is(err, store.ErrNotFound) {
		return "", bad
	} else if err != nil {
		return "", fmt.Errorf("sso: reading RelayState: %w", err)
	}
	var v relayValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", bad
	}
	if v.AccountID != in.AccountID || v.IdPID != in.IdPID || v.RequestID != a.InResponseTo {
		return "", bad
	}
	if p, err := RelayStatePath(v.ReturnTo); err == nil {
		return p, nil
	}
	return DefaultReturnPath, nil
}

// asserted is what an identity provider vouches for about the user a login provisions,
// whatever protocol verified it: provision's input. SAML fills it from an Assertion; an
// OIDC login fills it from an ID token.
type asserted struct {
	Subject             string // the SAML NameID (the OIDC subject): with the IdP, it identifies the user
	Email, Name         string
	Groups              []string // the groups the IdP asserts, for its role rules
	IdPInitiated        bool
	SessionNotOnOrAfter time.Time
}

func assertedOf(a *Assertion) asserted {
	return asserted{Subject: a.NameID, Email: a.Email, Name: a.Name, Groups: a.Groups,
		IdPInitiated: a.IdPInitiated, SessionNotOnOrAfter: a.SessionNotOnOrAfter}
}

// provision finds or creates the member a verified login lets in, and applies the IdP's
// role rules to the groups it asserts.
func (s *Service) provision(ctx context.Context, acct store.Account, idp store.IdentityProvider, a asserted) (*Login, error) {
	deny := loginDenied
	email, err := identity.NormalizeEmail(a.Email)
	if err != nil {
		return nil, deny(ReasonInvalidEmail)
	}
	l := &Login{
		AccountID: acct.ID, Email: email, Name: displayName(a.Name), IdPID: idp.ID, NameID: a.Subject,
		Groups: slices.Clone(a.Groups), IdPInitiated: a.IdPInitiated, SessionNotOnOrAfter: a.SessionNotOnOrAfter,
	}
	settings := settingsOf(acct.SSO)

	var (
		user    store.User
		hasUser bool
		linked  bool // found through the (IdP, NameID) link
		member  store.Membership
		isMem   bool
		inv     store.Invitation
		hasInv  bool
	)
	err = s.st.View(ctx, func(r store.Reader) error {
		// A bot user's name never logs in as a user, even when it looks like an email. A bot
		// name that looks like one is canonical (botuser checks it with
		// identity.NormalizeEmail), so the canonical email finds it, whatever its case.
		if _, err := r.BotUserByName(ctx, acct.ID, email); err == nil {
			return deny(ReasonBotUser)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// The (IdP, NameID) pair identifies the user once linked, whatever email the IdP
		// asserts now; only an unlinked subject is matched by email, and only for a domain
		// the IdP is trusted for.
		link, err := r.ExternalIdentity(ctx, idp.ID, a.Subject)
		switch {
		case err == nil:
			user, err = r.User(ctx, link.UserID)
			if hasUser = err == nil; !hasUser && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			linked = hasUser
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if !linked {
			// Trusted means listed by the IdP and verified by its account now: a record
			// listing a domain the account does not control links nobody.
			if !trustedFor(idp.Domains, email) {
				return deny(ReasonUntrustedDomain)
			}
			if ok, err := verifiedBy(ctx, r, acct.ID, domainOf(email)); err != nil {
				return err
			} else if !ok {
				return deny(ReasonUntrustedDomain)
			}
			user, err = r.UserByEmail(ctx, email)
			if hasUser = err == nil; !hasUser && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if hasUser {
			member, err = r.Membership(ctx, acct.ID, user.ID)
			if isMem = err == nil; !isMem && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if !isMem {
			inv, err = r.InvitationByEmail(ctx, acct.ID, email)
			if hasInv = err == nil; !hasInv && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if hasUser {
		if err := botuser.CanLogInID(user.ID); err != nil {
			return nil, deny(ReasonBotUser)
		}
	}
	if isMem {
		if member.Status != store.MemberActive {
			return nil, deny(ReasonMemberDisabled)
		}
		s.applyRoleRules(ctx, idp, user.ID, a.Groups)
		l.UserID = user.ID
		return s.linked(ctx, l, linked)
	}

	pending := hasInv && s.now().Before(inv.ExpiresAt)
	switch {
	case pending:
	case settings.Provisioning == ProvisioningJIT:
	case hasInv:
		return nil, deny(ReasonInvitationExpired)
	default:
		return nil, deny(ReasonNotInvited)
	}
	if !pending {
		// Check seats before creating a user that could not join anyway. The provisioning
		// checks them again in its transaction.
		err := s.st.View(ctx, func(r store.Reader) error { return members.TakeSeats(ctx, r, acct, s.now(), 1) })
		if err != nil {
			return nil, err
		}
	}
	if !hasUser {
		// Users are global records: written in an Update of their own.
		user, err = s.dir.CreateUser(ctx, email, l.Name)
		if errors.Is(err, store.ErrConflict) {
			user, err = s.dir.UserByEmail(ctx, email) // a concurrent first login created it
		} else if err == nil {
			l.UserCreated = true
		}
		if err != nil {
			return nil, err
		}
	}
	if err := botuser.CanLogInID(user.ID); err != nil {
		return nil, deny(ReasonBotUser)
	}
	if pending {
		// The user has just proven, through the IdP trusted for the email's domain, that it is
		// the invitee: it accepts as itself, logging into the invitation's account.
		by := identity.Principal{ID: user.ID, Kind: identity.KindUser, AccountID: acct.ID, Subject: user.Email, Source: identity.SourceDashboard}
		_, err = s.dir.AcceptInvitation(ctx, by, inv.ID)
	} else {
		err = s.provisionMember(ctx, acct.ID, user, s.jitRoles(ctx, acct, idp, a.Groups))
	}
	switch {
	case err == nil:
		l.Joined = true
	case store.CodeOf(err) == identity.CodeAlreadyMember:
		// A concurrent login of the same user got there first; use its membership.
		var m store.Membership
		err := s.st.View(ctx, func(r store.Reader) error {
			var err error
			m, err = r.Membership(ctx, acct.ID, user.ID)
			return err
		})
		if err != nil {
			return nil, err
		}
		if m.Status != store.MemberActive {
			return nil, deny(ReasonMemberDisabled)
		}
	case store.CodeOf(err) == identity.CodeInvitationExpired:
		return nil, deny(ReasonInvitationExpired)
	default:
		return nil, err
	}
	if pending || !l.Joined {
		// An invitation's roles, or a concurrent login's membership: the rules apply now.
		s.applyRoleRules(ctx, idp, user.ID, a.Groups)
	}
	l.UserID = user.ID
	return s.linked(ctx, l, linked)
}

// provisionMember makes user a member of accountID just in time, on the authority of the
// account's identity provider (no principal's permission is asked): the Guard checks the
// roles (the IdP's default roles; none means the account's defaults) and the member takes a
// seat, in one Update with its member_created event, attributed to the user.
func (s *Service) provisionMember(ctx context.Context, accountID string, user store.User, roles []string) error {
	if len(roles) == 0 {
		roles = nil // an IdP without default roles: the Guard's defaults
	}
	by := identity.Principal{ID: user.ID, Kind: identity.KindUser, AccountID: accountID, Subject: user.Email, Source: identity.SourceDashboard}
	return s.st.Update(ctx, func(tx store.Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if err != nil {
			return err
		}
		granted, err := s.authz.MemberRoles(ctx, tx, acct, roles)
		if err != nil {
			return err
		}
		_, err = members.Add(ctx, tx, s.members, acct, user, granted, by.Audit(), s.now())
		return err
	})
}

// linked records, for a login that did not come through it, the link of the IdP's subject to
// the user, so that the pair identifies the user from now on.
func (s *Service) linked(ctx context.Context, l *Login, already bool) (*Login, error) {
	if already {
		return l, nil
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutExternalIdentity(ctx, store.ExternalIdentity{
			AccountID: l.AccountID, IdPID: l.IdPID, Subject: l.NameID, UserID: l.UserID, CreatedAt: s.now().UTC(),
		})
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// displayName is the IdP's display name as iamkit stores it: cut to store.MaxNameLen bytes on a
// rune boundary, without the space the cut may leave at its end, and dropped altogether if
// identity.CheckName refuses it (control or format characters, say), so that an odd name
// from the IdP neither blocks the login nor reaches the store.
func displayName(n string) string {
	if len(n) > store.MaxNameLen {
		n = n[:store.MaxNameLen]
		for len(n) > 0 && !utf8.ValidString(n) {
			n = n[:len(n)-1]
		}
		n = strings.TrimRightFunc(n, unicode.IsSpace)
	}
	if identity.CheckName("name", n, false) != nil {
		return ""
	}
	return n
}
