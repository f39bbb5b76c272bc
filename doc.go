// Package iamkit is the user-management layer of a multi-tenant platform, such as a tunnel or
// edge service, modelled on ngrok's: accounts and their team members, role-based access
// control, bot users (service accounts), credentials (tunnel authtokens, API keys, SSH keys)
// with a high-throughput verifier, and SAML single sign-on for the dashboard.
//
// This package holds no code; the work is done by its subpackages, whose imports point down
// the list:
//
//   - store: the persistence contract (records, transactions, sentinel errors, change feed).
//   - store/memstore: the embedded default store, on hashicorp/go-memdb.
//   - store/redisstore: a store on Redis, standalone or Cluster, for many processes.
//   - store/storetest: the conformance suite every store adapter runs.
//   - identity: accounts, plans and seats, users, memberships, invitations, principals.
//   - rbac: permissions, built-in and custom roles, the Authorizer.
//   - botuser: bot users and the rules that set them apart from people.
//   - credential: authtokens, API keys and SSH keys; the token format, ACL rules and Verifier.
//   - sso: the SAML 2.0 service provider, identity providers, provisioning and enforcement.
//
// The examples directory holds reference servers built only from this public API.
package iamkit
