// Package credential issues and verifies credentials: tunnel authtokens, API keys and SSH
// keys, with their ACL rules and the high-throughput Verifier.
package credential
