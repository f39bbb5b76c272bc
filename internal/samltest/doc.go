// Package samltest runs real SAML 2.0 identity providers for tests: SimpleSAMLphp (Debian's
// simplesamlphp package, 1.19) under PHP's built-in web server, one `php -S` process per IdP
// on a free loopback port, configured in a temporary directory removed when it stops.
//
// Start ties an IdP to one test and Launch returns one a test binary can share (Close it after
// m.Run); a test may start several, each with its own process, key and users. Each IdP signs
// with a fresh RSA-2048 key and a self-signed certificate made here (crypto/x509), and lets
// the users the test gives sign in with a password (SimpleSAMLphp's exampleauth:UserPass).
// RegisterSP adds a service provider (entity ID and AssertionConsumerService URL) at any time:
// SimpleSAMLphp reads its metadata files on every request. A registered SP gets NameIDs in
// the emailAddress format (the user's email), every attribute of the user, signed responses
// and assertions (RSA-SHA256), and may be signed in to IdP-initiated (IdPInitiatedURL).
//
// When php or SimpleSAMLphp is missing (or php lacks the dom, mbstring or openssl
// extension) Start skips the test with a message, except when the CI environment variable
// is set: then it fails, as internal/redistest does. SimpleSAMLphp is looked for in the
// directory the IAMKIT_SIMPLESAMLPHP environment variable names, else in
// /usr/share/simplesamlphp; php on PATH.
//
// # Endpoints
//
// Under BaseURL (http://127.0.0.1:PORT/simplesaml/): the metadata (raw XML) at
// saml2/idp/metadata.php, which is also the IdP's entity ID; single sign-on (HTTP-Redirect and
// HTTP-POST bindings) at saml2/idp/SSOService.php; IdP-initiated sign-in at
// SSOService.php?spentityid=<SP entity ID>.
//
// # The login form, for browser tests
//
// SSOService.php redirects to module.php/core/loginuserpass.php, whose form has:
//
//	input#username       (name "username")
//	input#password       (name "password", type password)
//	button#submit_button (type submit)
//	input[name=AuthState] (hidden; posted back with the form)
//
// A wrong password shows the same form again, with the error in an h2 ("Incorrect username or
// password"). A correct one answers with a page whose form (method POST, action the SP's ACS
// URL) holds SAMLResponse and RelayState; its script (resources/post.js) submits it on load,
// so a browser lands on the ACS URL by itself. Wait for the ACS URL, not for a click. An
// AuthnRequest from an entity ID that was not registered gets an error page (status 200,
// title "Metadata not found"), not the form.
//
// # Cookies
//
// Browsers do not tell ports apart when they store cookies, so IdPs on 127.0.0.1 would share
// SimpleSAMLphp's session cookies and log each other out. Each IdP here names its cookies with
// a suffix of its own (SimpleSAMLSessionID_<suffix> and the like); they are plain HTTP cookies
// (not Secure) with no SameSite attribute.
package samltest
