// Command dashboard is a web dashboard for iamkit, built on its facade and HTTP layer: the
// pages ngrok's dashboard has for what iamkit models. It is server-rendered (html/template,
// templates and a small CSS file embedded, a little JavaScript only to copy secrets), with no
// build step and no external assets.
//
//	go run ./examples/dashboard [-addr 127.0.0.1:8090] [-store redis://localhost:6379/0] [-base-url https://dash.example.com]
//
// Pages, under /a/{account}/ so that a person in several accounts keeps a tab on each:
//
//   - sign-in: email and password, then a TOTP or recovery code (or setting one up when the
//     account requires a second factor); "Sign in with SSO", which finds the account by its
//     name and sends the person to its identity provider, or lets them choose one by its
//     description when there are several; IdP-initiated logins, which land in the account of
//     the identity provider; the account picker; password resets; sign-out;
//   - team members: members with roles, status and seat use; invitations (roles never above
//     the inviter's) with resend and revoke, accepted by the invited person from the mailed
//     link; roles, disable, enable, remove, a member's sessions; the last administrator kept;
//   - bot users: create, rename, deactivate and reactivate (its credentials stop and start
//     working), delete (its credentials revoked, as the confirmation says);
//   - credentials: authtokens, API keys and SSH keys for oneself or, for administrators, a
//     bot user, with description, ACL and expiry; the secret shown once; revoke;
//   - single sign-on: identity providers from pasted or uploaded metadata, with what to give
//     the IdP; just-in-time or invite-only; enforcement off, mixed or enforced, which an
//     administrator may switch on only from a session that came through one of the account's
//     identity providers; an identity provider's role rules (groups attribute or claim, and
//     ordered "group = roles" rules), and on a member's page why they have each role;
//   - security: password, authenticator app and recovery codes, the member's sessions, and
//     whether the account requires a second factor;
//   - the audit log, filtered by actor and event type.
//
// Sessions are iamkit's server-side dashboard sessions, one "__Host-" cookie per account
// (SameSite=Lax; iamkit.IAM.SessionAuth verifies them), and every form post is checked with
// http.CrossOriginProtection. Secure cookies need https, or a browser that treats the origin
// as secure (Chromium and Firefox do for http://localhost and 127.0.0.1): the dashboard serves
// plain http on loopback by default; put TLS in front of it, or give it -tls-cert and
// -tls-key, anywhere else.
//
// On an empty store it bootstraps an account and its administrator and prints a link to
// choose the administrator's password. Mail is written to a directory instead of being sent.
// See README.md.
package main
