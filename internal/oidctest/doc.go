// Package oidctest runs a real OpenID Connect provider on loopback for tests: the op package of
// github.com/zitadel/oidc/v3, a certified provider library, over an in-memory storage that
// holds the users and clients the test gives. It shares no code with the clients under test
// (golang.org/x/oauth2, github.com/coreos/go-oidc/v3), so a test that signs in against it
// exercises both sides of the protocol for real.
//
// Start ties a provider to one test and Launch returns one a test binary can share (Close it
// after m.Run). A provider needs no external program, so it never skips. Users and clients
// may be added after the start (AddUser, AddClient), for a client whose redirect URI is known
// only once its server listens.
//
// The provider serves the authorization code flow only, with PKCE required (S256): an
// authorization request without a code_challenge, or with the plain method, is refused with
// invalid_request sent to the redirect URI. Clients are confidential: they authenticate at
// the token endpoint with their secret, by HTTP Basic (client_secret_basic) or in the form
// (client_secret_post). There are no refresh tokens, consent screens or sessions: every
// authorization request shows the login page.
//
// Claims: the ID token carries sub, and the claims of the scopes asked for: email and
// email_verified (scope email), name and preferred_username (scope profile), and groups, a
// JSON array of strings, (scope groups). The userinfo endpoint returns the same claims.
// ID tokens are signed with RS256 by a key made for each provider, published at jwks_uri.
//
// The login page, for browser tests, is an HTML form at /login:
//
//	form#login (method POST, action /login)
//	input#username  (name "username")
//	input#password  (name "password", type password)
//	button#submit   (type submit)
//	p#error         (only after a failed attempt: "Wrong username or password.", status 401)
//
// A user signs in with User.Username, or with User.Email when Username is empty. After a
// correct sign-in the browser is redirected (303) to the provider's callback, which redirects
// to the client's redirect URI with code and state.
package oidctest
