// Command sshedge is an SSH server that authenticates clients by SSH credential: the public key
// a client offers must be registered (credential.Service, or the API server's
// /ssh_credentials) and its owner active. Passwords and keyboard-interactive are not offered.
// A session prints the key's owner, account and ACL; remote forwards (ssh -R) are granted only
// for the host:port addresses the credential's bind ACL allows, and carried to the client.
// Connections are re-verified every -check-interval and closed once the credential is revoked
// or its owner deactivated.
//
// Usage:
//
//	go run ./examples/sshedge [-addr 127.0.0.1:2222] [-host-key PATH] [-store URL]
//	go run ./examples/sshedge -authorized-key ~/.ssh/id_ed25519.pub [-acl bind:127.0.0.1:8080]
//
// With -store (or its older alias -redis) the edge reads the SSH credentials an API server
// writes to the same Redis or PostgreSQL.
// Without it the edge keeps its state in memory, and -authorized-key registers a public key
// there, as an SSH credential of a demo bot user, with the ACL -acl.
//
// The host key is read from -host-key (an OpenSSH or PEM private key without passphrase) or,
// by default, generated at start (ed25519), so clients see a new one every run.
package main
