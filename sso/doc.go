// Package sso is the SAML 2.0 service provider for dashboard single sign-on.
//
// It has two layers. The SAML core parses IdP metadata, derives a service provider per
// (account, IdP), builds AuthnRequests and validates responses; it knows nothing of
// accounts or users. On top of it, Service manages each account's identity providers and SSO
// settings, runs logins with provisioning and answers the login policy; Sessions issues and
// verifies dashboard session tokens; Handler serves the HTTP endpoints.
//
// # Wiring
//
//	svc, err := sso.New(st, authz, "https://dashboard.example.com") // store.Store, *rbac.Authorizer
//	sessions, err := sso.NewSessions(svc, ed25519Key)                // or an ECDSA P-256 key
//	h, err := sso.NewHandler(svc, sessions.CookieLogin())
//	mux.Handle(h.Pattern(), h)                                       // "/sso/"
//
// Handler serves GET /sso/{account}/login (one IdP: redirect; several: a chooser listing
// their descriptions), GET /sso/{account}/{idp}/login, GET /sso/{account}/{idp}/metadata
// and POST /sso/{account}/{idp}/acs, and hands each completed Login to a LoginFunc.
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
//     and creating one claims its email everywhere). Email alone never links an IdP that is
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
//   - A session token that is not valid matches store.ErrUnauthenticated with
//     CodeSessionInvalid; one whose login is no longer allowed, CodeSessionRevoked.
//
// Invalid arguments match store.ErrInvalid and name the field (and the limit), with the
// store's codes (CodeRequired, CodeTooLong, CodeInvalidValue, ...); a nil argument to a
// constructor names the argument. Denials by rbac match store.ErrDenied (Field names the
// permission), a plan without SSO store.ErrFeatureUnavailable (Field names the feature).
//
// Service, Sessions, Handler and Validator hold no mutable state after construction and are
// safe for concurrent use. Values they return (store records, Login, Session, Settings) are
// copies the caller owns. Time comes only from the injected Clock and randomness only from
// the injected reader.
package sso
