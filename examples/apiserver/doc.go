// Command apiserver is an HTTP API wire-compatible with ngrok's API v2 for bot users,
// authtokens, API keys and SSH credentials, plus iamkit's own resources (members,
// invitations, roles, the audit event log, ngrok's event destinations and subscriptions
// streaming it to signed webhooks), built on iamkit's facade and HTTP layer and on
// internal/audit's definitions of the resources, which audit event objects share. Its own
// error code is ngrok's: the table from library codes to ngrok's codes, and ngrok's body as
// the facade's iamkit.ErrorFormat.
//
//	go run ./examples/apiserver [-addr 127.0.0.1:8080] [-store redis://localhost:6379/0]
//
// On an empty store it bootstraps an account, its administrator and a first API key
// (iamkit.IAM.Bootstrap: once, however many servers start at once), and prints the key with a
// curl line to try. See README.md.
package main
