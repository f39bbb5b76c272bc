// Package iamkit is the user-management layer of a multi-tenant platform, such as a tunnel or
// edge service, modelled on ngrok's: accounts and their team members, role-based access
// control, bot users (service accounts), credentials (tunnel authtokens, API keys, SSH keys)
// with a high-throughput verifier, and single sign-on for the dashboard.
//
// This package is the one way in: New builds every service over one store and one plan
// catalog, wired together, and the IAM it returns owns their lifecycle and offers what most
// services need on their request path.
//
//	iam, err := iamkit.New(st, plans)              // st: memstore, redisstore or pgstore
//	err = iam.Start(ctx)                           // one change-feed follower for every cache
//	defer iam.Close(ctx)                           // then close st
//	p, err := iam.Authenticate(ctx, token)         // any token kind -> the acting Principal
//	err = iam.Require(ctx, p, rbac.BotUsersWrite)  // permission check, no store read when warm
//	mux.Handle("GET /things", iam.Protect(perm, h)) // the same, as HTTP middleware
//	api := iam.BearerAuth(iam.RateLimit(mux))         // 120 requests/60 s per account (Plan.APIRate)
//
// A dashboard built WithSSO and WithDashboard puts its pages behind the member's session
// instead, verified for the account its URL names (SessionAuth; examples/dashboard):
//
//	byURL := func(r *http.Request) string { return r.PathValue("account") }
//	mux.Handle("/a/{account}/", iam.SessionAuth(byURL)(pages)) // PrincipalFrom, SessionFrom in pages
//
// The services themselves are the subpackages, reachable from the IAM (Directory, Authorizer,
// BotUsers, Credentials, Verifier, SSO) or built one by one with their own constructors:
//
//   - store: the contract (records, the Schema, Backend, Store, errors, the change feed).
//   - store/memstore, store/redisstore, store/pgstore: the adapters; store/storetest: the
//     conformance suite they pass.
//   - identity: accounts, plans and seats, users, memberships, invitations, principals.
//   - rbac: permissions (built-in and the embedder's), roles, the Authorizer, the audit log.
//   - rbac/eventstream: audit streaming to signed HTTPS webhooks (WithAuditStreaming, which
//     runs the delivery worker in Run; EventStreams manages destinations and subscriptions).
//   - botuser: bot users and the rules that set them apart from people.
//   - credential: the token format, ACL rules, the Verifier and the Purger.
//   - iprestrict: account-wide IP restrictions by type (dashboard, api, agent), enforced or
//     warn-only, which BearerAuth, SessionAuth and Verifier.VerifyAgent apply.
//   - sso: dashboard sign-in: the SAML 2.0 service provider, identity providers, sessions.
//
// # Errors
//
// Every error matches one of the store package's nine sentinels with errors.Is and carries a
// stable code (store.CodeOf) and, for input errors, the field and the limit. HTTPStatus maps
// them to statuses; the middleware writes them with the IAM's ErrorFormat (JSONErrors unless
// WithErrorFormat says otherwise).
//
// # Concurrency
//
// An IAM and every service it holds are safe for concurrent use.
//
// The examples directory holds reference servers built only from the public API; docs/ holds
// the architecture.
package iamkit
