// Package sso is the SAML 2.0 service provider for dashboard single sign-on.
//
// This package is the SAML core: it parses IdP metadata, derives a service provider per
// (account, IdP), builds AuthnRequests and validates responses. Provisioning, SSO
// enforcement, dashboard sessions and HTTP handlers are built on top of it elsewhere.
//
//   - ParseIdPMetadata reads an IdP's metadata (at most 16 KiB, no DTD, round-trip checked):
//     entity ID, SSO URLs for the HTTP-Redirect and HTTP-POST bindings (https only, http on
//     loopback for tests) and signing certificates.
//   - NewServiceProvider derives the per-IdP entity ID and ACS URL from the embedder's base
//     URL ("<base>/sso/<account_id>/<idp_id>/metadata" and ".../acs");
//     ServiceProvider.SPMetadataXML is what the account administrator gives the IdP.
//   - ServiceProvider.NewAuthnRequest builds a request with a fresh random ID; RedirectURL
//     and PostForm/PostFormHTML send it by either binding. Validator.TrackRequest records
//     its ID, bound to the IdP, as a single-use key.
//   - Validator.ValidateResponse checks a posted SAMLResponse against one IdP, following
//     iamkit's SAML checklist (size caps, XML round-trip check, goxmldsig with metadata
//     certificates only, an algorithm allow-list without SHA-1, signatures only as direct
//     children of the element they sign, values read only from the verified element,
//     exactly one assertion, destination, issuer, audience, recipient, time windows with
//     skew, single-use request IDs bound to the IdP, a replay cache, opt-in IdP-initiated
//     login) and returns a verified Assertion with the user's email, name and groups.
//   - RelayStatePath accepts an IdP-initiated RelayState only as a relative path.
//
// Encrypted assertions are not supported: the SP metadata publishes no encryption key and
// responses carrying EncryptedAssertion are rejected. AuthnRequests are not signed.
//
// Single-use state (request IDs and the replay cache) lives in a SingleUseStore, which the
// project's store.Store satisfies, under keys "saml:req:<idp_id>:<request_id>" and
// "saml:assertion:<idp_id>:<assertion_id>". The package reads time only from the Clock it is
// given and randomness only from the io.Reader it is given.
//
// Errors match sentinels with errors.Is: ErrInvalidMetadata (*MetadataError),
// ErrInvalidConfig (*ConfigError), and ErrInvalidResponse (*ResponseError) together with one
// sentinel naming the failed check, such as ErrSignature, ErrAudience or ErrReplay.
package sso
