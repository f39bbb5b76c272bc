// Package sso is iamkit's dashboard sign-in: SAML and OpenID Connect SSO, verified email
// domains, passwords and a second factor, the login policy and sessions.
//
// It has two layers. The SAML core parses IdP metadata, derives a service provider per
// (account, IdP), builds AuthnRequests and validates responses; it knows nothing of
// accounts or users. On top of it, Service manages each account's identity providers and SSO
// settings, runs logins with provisioning and answers the login policy; Dashboard signs
// members in with a password and a second factor and keeps server-side sessions; Sessions
// issues and verifies stateless (JWT) session tokens; Handler serves the SAML endpoints.
//
// # Wiring
//
//	svc, err := sso.New(st, authz, "https://dashboard.example.com") // store.Store, *rbac.Authorizer
//	dash, err := sso.NewDashboard(svc, sso.WithSecretKey(totpKey))   // 32 bytes from a secret store
//	h, err := sso.NewHandler(svc, dash.CookieLogin())                // SAML logins end in dashboard sessions
//	mux.Handle(h.Pattern(), h)                                       // "/sso/"
//
// Embedders that want stateless sessions use sso.NewSessions(svc, ed25519Key) and its
// CookieLogin instead of a Dashboard's: the JWT form stays, for them.
//
// Handler serves GET /sso/{account}/login (one IdP: redirect; several: a chooser listing
// their descriptions), GET /sso/{account}/{idp}/login, GET /sso/{account}/{idp}/metadata
// and POST /sso/{account}/{idp}/acs (SAML), GET /sso/{account}/{idp}/callback (OIDC), and
// hands each completed Login to a LoginFunc.
// Failures are HTML error pages with fixed messages and fitting status codes.
//
// # Identity providers and settings
//
// Every call that manages or reads them takes the acting identity.Principal, whose account it
// works in. Service.CreateIdentityProvider, UpdateIdentityProvider, DeleteIdentityProvider and
// UpdateSettings need rbac.SSOManage (administrators) and a plan with identity.FeatureSSO, and
// record audit events in the same transaction (IdentityProviderObject and SettingsObject are
// what they record); IdentityProvider, IdentityProviders and Settings need rbac.SSORead,
// checked in the transaction that reads. An IdP is its metadata (checked by ParseIdPMetadata),
// a description for the chooser, the IdP-initiated toggle (off by default), default roles for
// just-in-time members, an attribute mapping and the email domains it is trusted for. Settings
// are provisioning ("invite_only", the default, or "jit") and enforcement ("off", "mixed" or
// "enforced"); Since records when enforcement last left "off". Enforcing needs an IdP, and the
// last IdP of an enforced account cannot be deleted (CodeNoIdentityProvider,
// CodeLastIdentityProvider). On a plan without SSO, enforcement counts as off.
//
// # OpenID Connect providers
//
// Service.CreateOIDCProvider adds an OpenID Connect provider beside SAML IdPs (one chooser
// lists both; IdP-initiated sign-in stays SAML-only): its issuer (https; the record's
// EntityID), the client iamkit is there (client ID, and the client secret as a Secret that
// no event or object shows), scopes and claim names, with the same default roles and
// verified Domains. OIDCRedirectURL is the redirect URI to register,
// "<base>/sso/<account_id>/<idp_id>/callback". BeginLogin of such a provider discovers it
// (github.com/coreos/go-oidc/v3) and returns LoginRequest.RedirectURL, an authorization
// request (golang.org/x/oauth2) with PKCE (S256), a nonce and a state kept server-side as a
// single-use key "sso:oidc:<state>" for the login TTL; Handler keeps the state in the same
// "__Host-" cookie as a SAML RelayState. CompleteOIDCLogin (Handler: GET .../callback)
// requires that state from that browser (CodeOIDCState), exchanges the code with the verifier
// (CodeOIDCExchange), verifies the ID token with go-oidc: signature by the issuer's published
// keys, issuer, audience and expiry by the injected clock (CodeOIDCToken), then the nonce
// (CodeOIDCNonce), and requires email_verified (ReasonEmailNotVerified). The subject (sub)
// then goes through the provisioning below exactly as a SAML NameID. The client secret is
// kept in the store as given: protect the store as the secret's home.
//
// # Verified domains
//
// An IdP's Domains must each be verified by its account (CodeDomainNotVerified otherwise):
// otherwise an administrator of one account could trust its IdP for another organisation's
// domain and, through just-in-time provisioning, bring that organisation's global users into
// the account. Service.ClaimDomain records a store.Domain with a random token;
// DomainRecordOf gives the TXT record to publish ("iamkit-domain-verification=<token>" at
// "_iamkit.<domain>", or at the domain itself); VerifyDomain looks both names up through the
// Resolver (WithResolver; net.DefaultResolver by default) and marks the domain verified. A
// verified domain belongs to one account (CodeDomainTaken for any other); DeleteDomain
// refuses one an IdP is trusted for (CodeDomainInUse). A login re-checks that the email's
// domain is verified by the IdP's account. RequireDomainSSO makes a verified domain's members
// sign in through SSO only (ReasonDomainSSO at password sign-in), and RouteEmail finds the
// account and IdPs an address's domain leads to, for a "sign in with SSO" page that asks for
// an email. Verification needs rbac.SSOManage and records domain_* events.
//
// # Logins and provisioning
//
// The login flows (LoginChoices, BeginLogin, CompleteLogin, ServiceProvider, LoginPolicy)
// take no principal: nobody is signed in yet. They take the account's ID instead.
//
// Service.BeginLogin makes an AuthnRequest, tracks its ID bound to the IdP and stores the
// return path (which must pass RelayStatePath) server-side under a random RelayState key,
// also bound to the request. Service.CompleteLogin validates the response with the
// Validator, requires an SP-initiated response to come back with its own RelayState from the
// browser that began the login (Handler keeps it in a short-lived "__Host-" cookie: login
// CSRF protection), and then provisions:
//
//   - Linking. The (IdP, NameID) pair identifies the user: the first successful login of a
//     subject records a store.ExternalIdentity, and later logins of that subject reach the
//     same user whatever email the IdP asserts then. A subject not yet linked is matched by
//     email, and only when the email's domain is one the IdP is trusted for (its Domains;
//     ReasonUntrustedDomain otherwise, whether or not the user exists, since users are global
//     and creating one claims its email everywhere), and only when the IdP's account has
//     verified that domain (see Verified domains). Email alone never links an IdP that is
//     not trusted for the domain. Emails (NameID or attribute) and trusted domains follow
//     identity.NormalizeEmail and identity.NormalizeDomain: ASCII only, IDNs in punycode,
//     lower-cased in ASCII; a non-ASCII look-alike of an address is no email (CodeNoEmail),
//     never folded onto the address it resembles.
//   - An active member logs in; a disabled member is refused. A pending invitation for the
//     email is accepted (in both modes), taking the roles it carries. Otherwise "jit"
//     creates the user (in an Update of its own) and a membership with the IdP's default
//     roles, within the plan's seats, through the same member-creation core as
//     identity's invitations (events member_created.v0, or invitation_accepted.v0);
//     "invite_only" refuses (ReasonNotInvited).
//   - Roles from groups. An IdP's role rules (SetRoleRules, sso:manage) map the groups it
//     asserts (its groups attribute) to roles: ordered rules, each a group and roles; a
//     member gets the roles of every rule whose group it is in, or the IdP's DefaultRoles
//     when none matches. They are applied at every sign-in through the IdP (and by package
//     sso/scim at every SCIM group change), acting as the rules' author: a rule set by
//     someone who may not grant its roles is refused (CodeRoleRulesExceedAuthor), and an
//     author demoted since then changes nothing (logged; the sign-in goes on). A
//     just-in-time member starts with the mapped roles. ExplainRoles says which rule gave
//     each role, and ExplainMemberRoles explains a member's roles from the SCIM groups it
//     is in (RulesFor picks the IdP whose rules govern it), for a dashboard.
//   - Bot users never log in: an asserted email equal to a bot user's name (canonical, as
//     package botuser requires of names that look like addresses) is refused, and
//     every session path calls botuser's checks.
//
// # Enforcement and sessions
//
// Service.LoginPolicy is the decision embedders ask before completing their own password or
// OAuth logins: allowed with enforcement off, in mixed mode only for members whose
// membership predates Since, never when enforced; SSO logins are always allowed. A deny is a
// LoginDecision with a reason, not an error. Settings.LoginPolicy is the same rule as a pure
// function.
//
// Every cookie the package sets (the login state, and the session cookie of
// Sessions.CookieLogin and SessionCookie, DefaultSessionCookie unless WithSessionCookie names
// another) has the "__Host-" prefix: host-only, Secure, Path=/, HttpOnly, so that no sibling
// subdomain can plant one. Browsers keep Secure cookies from plain HTTP only on origins
// they treat as secure (some do for http://localhost); Go's net/http/cookiejar does for
// localhost and loopback addresses, so tests against httptest servers work.
//
// Sessions issues short-lived JWTs (golang-jwt v5, EdDSA or ES256 with the embedder's key,
// algorithm pinned) carrying the account, the user, the login method and the IdP.
// IssueSession refuses bot principals and logins the policy denies. VerifySession takes the
// account the embedder is serving with the token, so that a session is only ever valid in
// its own account (a session of another account is CodeSessionInvalid, even for a member of
// both); it checks the signature, algorithm, issuer, audience and expiry by the injected
// clock, then re-checks the membership and the current enforcement, so a password-born
// session ends when the account switches to "enforced" (or, in "mixed", when its member is
// not grandfathered), and an SSO session ends when its IdP is deleted.
//
// # Local sign-in (Dashboard)
//
// Dashboard.SignIn takes an account, an email and a password. Attempts are throttled first,
// per email and per source address (an IPv6 address by its /64), in tiers of rates counted by
// a store.Limiter (WithLimiter; by default the store adapter's own when it offers one,
// store.LimiterOf, else an in-process store.MemoryLimiter bounded in keys): a few quick
// tries, then one a minute, then a daily cap (DefaultThrottle); a refusal is CodeThrottled
// with the wait in store.Error.RetryAfter. The password is then verified with Argon2id
// (golang.org/x/crypto/argon2; OWASP's minimum m=19456 KiB, t=2, p=1 by default, stored as a
// PHC string, optionally keyed by a pepper, replaced at sign-in when the configured parameters
// or pepper differ). An unknown email, a user without a password and a wrong password are one
// error, CodeBadCredentials, after the same work (a dummy hash stands in). Only after the
// password is right does the login policy apply: the account's enforcement (off, mixed,
// enforced, as Settings.LoginPolicy decides) says who may use a password, so users who sign
// in only through an IdP have none and members the account has moved to SSO are refused with
// the LoginReason. Bot users never sign in. New passwords follow NIST SP 800-63B (at least
// DefaultMinPasswordLen characters after NFKC, no composition rules, not a common password,
// not the email).
//
// A member with TOTP then gets StepSecondFactor and sends a code with SecondFactor: a TOTP
// code (RFC 6238 with github.com/pquerna/otp: 30-second steps, one step of skew, a code never
// accepted twice, throttled per user) or one of its ten recovery codes, each used once. An
// account can require a second factor of password sign-ins (SetRequireSecondFactor,
// administrators only): a member without one gets StepEnrollSecondFactor with a new TOTP
// secret, and ConfirmEnrollment signs it in and hands out its recovery codes. TOTP secrets
// are sealed with AES-256-GCM under the key the embedder passes (WithSecretKey), bound to the
// user; without a key TOTP is refused. Members manage their password and TOTP from a session:
// ChangePassword, BeginTOTP, ConfirmTOTP, DisableTOTP, RegenerateRecoveryCodes, SecurityOf.
// A password reset is a single-use token (RequestPasswordReset) that the embedder delivers
// and ResetPassword redeems; SetInitialPassword gives a new user its first password.
//
// # Server-side sessions
//
// A successful sign-in (a password, a SAML login through CookieLogin or IssueLoginSession, or
// a login of the embedder's own through IssueSession) begins a store.Session of the account.
// Its token ("ias_", the session ID's body, a 160-bit secret) names it; the store keeps only
// the secret's SHA-256, and Verify looks the session up by ID and compares digests in
// constant time. Sessions end after an idle and an absolute time (WithSessionLifetimes), and
// at once when something ends them: a member disabled or removed (identity deletes its
// sessions in the same transaction), the login policy no longer allowing the session's
// method (enforcement switched to enforced ends password sessions; mixed ends newer
// members'), its identity provider deleted, SSO gone from the plan, the user's password
// changed or reset (store.UserSecrets.SessionsNotBefore, every account at once). Verify
// re-checks all of these on every call from one read (store.Reader.SessionAuth), so no end
// waits for a write over many sessions; ended sessions are deleted when presented, when their
// member signs in again, and an identity provider's first hundred with it. A member lists
// and ends its own sessions and an administrator a member's (Sessions, EndSession,
// EndSessions, SignOut), each end recorded as session_ended.
//
// The session cookie is "__Host-" (host-only, Secure, Path=/), HttpOnly and SameSite=Lax
// (SetCookie, ClearCookie). Every state-changing request is checked against cross-site
// request forgery with Go's http.CrossOriginProtection (Sec-Fetch-Site, or Origin against
// Host), not tokens: VerifyRequest does so before it reads the cookie, CheckRequest does for
// the sign-in endpoints, and Handler wraps a handler with it. Serve the dashboard over
// HTTPS, and make no state change on GET.
//
// Sign-ins record sign_in_succeeded and, for a member, sign_in_failed in the account they
// were made to; a failure for an email of no member records nothing. Password changes and
// TOTP changes are about a global user: they commit on their own and their events
// (password_changed, totp_*) follow in the account the member acted in.
//
// # The SAML core
//
//   - ParseIdPMetadata reads an IdP's metadata (at most 16 KiB and 1024 tokens, no DTD,
//     round-trip checked): entity ID, SSO URLs for the HTTP-Redirect and HTTP-POST
//     bindings (https only, http on loopback for tests) and signing certificates within
//     the key policy (RSA of at least 2048 bits, or ECDSA on P-256, P-384 or P-521).
//     NewAuthnRequest, ValidateResponse and the signature check apply the same policy to
//     an IdPMetadata built by hand (CodeKeyPolicy).
//   - NewServiceProvider derives the per-IdP entity ID and ACS URL from the embedder's base
//     URL ("<base>/sso/<account_id>/<idp_id>/metadata" and ".../acs");
//     ServiceProvider.SPMetadataXML is what the account administrator gives the IdP.
//   - ServiceProvider.NewAuthnRequest builds a request with a fresh random ID; RedirectURL
//     and PostForm/PostFormHTML send it by either binding. Validator.TrackRequest records
//     its ID, bound to the IdP, as a single-use key.
//   - Validator.ValidateResponse checks a posted SAMLResponse against one IdP, following
//     iamkit's SAML checklist, cheapest check first (size caps, no DEFLATE on the
//     HTTP-POST binding, a streaming pre-scan enforcing the XML limits, goxmldsig with
//     metadata certificates only, an algorithm allow-list without SHA-1, signatures only
//     as direct children of the element they sign, values read only from the verified
//     element, exactly one assertion, destination, issuer, audience, recipient, time windows with
//     skew, a replay cache, the XML round-trip check, single-use request IDs bound to the
//     IdP, opt-in IdP-initiated login) and returns a verified Assertion with the user's
//     email, name and groups. BENCHMARKS.md gives the limits and what a refusal costs.
//   - RelayStatePath accepts an IdP-initiated RelayState only as a relative path.
//
// Encrypted assertions are not supported: the SP metadata publishes no encryption key and
// responses carrying EncryptedAssertion are rejected. AuthnRequests are not signed.
//
// Single-use state (request IDs and the replay cache) lives in a SingleUseStore, which the
// project's store.Store satisfies, under keys "saml:req:<idp_id>:<request_id>" and
// "saml:assertion:<idp_id>:<assertion_id>"; Service adds "sso:relay:<key>" for RelayState
// keys. The package reads time only from the Clock it is given and randomness only from the
// io.Reader it is given.
//
// # Errors and concurrency
//
// Every error is a *store.Error (or wraps one): it matches one of the store's sentinels with
// errors.Is and carries a stable code (store.CodeOf). This package's codes are:
//
//   - A rejected SAML response (Validator.ValidateResponse, Service.CompleteLogin) matches
//     store.ErrUnauthenticated with one code per check of the SAML checklist:
//     CodeResponseTooLarge, CodeUnsafeXML, CodeMalformedResponse, CodeEncryptedAssertion,
//     CodeSignature, CodeAlgorithm, CodeStatus, CodeDestination, CodeIssuer, CodeAudience,
//     CodeRecipient, CodeExpired, CodeNotYetValid, CodeUnknownRequest, CodeUnsolicited,
//     CodeReplay, CodeNoEmail and CodeRelayState (all of them start with "saml_").
//   - Rejected IdP metadata matches store.ErrInvalid with CodeMetadataInvalid, and Field
//     "metadata_xml.<part>" naming the part of the document at fault; a certificate key
//     outside the key policy has CodeKeyPolicy; an unusable base URL, ID, option or
//     IdentityProvider CodeConfigInvalid; a missing binding CodeBindingUnsupported; an
//     unsafe return path CodeRelayStateUnsafe.
//   - A refused login matches store.ErrDenied; its code is the LoginReason's value
//     (string(ReasonNotInvited), ...), and the LoginReason is its cause (errors.As).
//   - CodeLastIdentityProvider and CodeNoIdentityProvider match store.ErrConflict.
//   - OIDC callbacks: CodeOIDCState, CodeOIDCError, CodeOIDCExchange, CodeOIDCToken and
//     CodeOIDCNonce (store.ErrUnauthenticated); CodeOIDCDiscovery (store.ErrUnavailable).
//   - Domains: CodeDomainNotVerified (store.ErrInvalid), CodeDomainTaken, CodeDomainUnproven
//     and CodeDomainInUse (store.ErrConflict), CodeDNSUnavailable (store.ErrUnavailable).
//   - A session token that is not valid matches store.ErrUnauthenticated with
//     CodeSessionInvalid; one whose login is no longer allowed, CodeSessionRevoked.
//   - Local sign-in: CodeBadCredentials, CodeBadSecondFactor, CodeChallengeInvalid and
//     CodeResetInvalid (store.ErrUnauthenticated), CodeThrottled (store.ErrLimitExceeded,
//     with RetryAfter), CodePasswordTooShort and CodePasswordCommon (store.ErrInvalid),
//     CodeSecondFactorRequired, CodeNoPassword, CodePasswordSet, CodeTOTPEnabled and
//     CodeTOTPNotEnabled (store.ErrConflict), CodeTOTPUnavailable
//     (store.ErrFeatureUnavailable), CodeCrossOrigin (store.ErrDenied).
//
// Invalid arguments match store.ErrInvalid and name the field (and the limit), with the
// store's codes (CodeRequired, CodeTooLong, CodeInvalidValue, ...); a nil argument to a
// constructor names the argument. Denials by rbac match store.ErrDenied (Field names the
// permission), a plan without SSO store.ErrFeatureUnavailable (Field names the feature).
//
// Service, Sessions, Handler and Validator hold no mutable state after construction and are
// safe for concurrent use; so is Dashboard, whose only state in process is its limiter's
// counts (when no shared limiter is configured) and the bound on concurrent password hashes. Values they return (store records, Login, Session, Settings) are
// copies the caller owns. Time comes only from the injected Clock and randomness only from
// the injected reader.
package sso
