// Command tunneledge is a minimal tunnel edge: agents dial it, send their authtoken (or an
// access token with the tunnel:start scope) and the endpoint they want to serve, and keep a
// session that lasts only as long as the token stays valid, its owner may start agents, its
// address allow-list admits the agent and its ACL allows that endpoint. The protocol and its error codes are those of
// package tunnel (examples/tunneledge/tunnel), which this command serves.
//
// Usage:
//
//	go run ./examples/tunneledge [-addr 127.0.0.1:4443] [-store URL] [-acl RULES]
//	go run ./examples/tunneledge -agent -bind HOST [-addr 127.0.0.1:4443]
//
// With -store (or its older alias -redis) the edge verifies authtokens against the Redis or
// PostgreSQL that an API server writes to (examples/apiserver -store with the same URL).
// Without it the edge keeps its state in memory
// and, since nothing else can write there, creates a demo account with a bot user and an
// authtoken whose ACL is -acl, and prints the token.
//
// With -agent it is the agent instead: it reads the authtoken from the IAMKIT_AUTHTOKEN
// environment variable, opens a session for -bind and prints how it ends.
//
// The edge stops on SIGINT or SIGTERM, closing every session with a last line that says so.
package main
