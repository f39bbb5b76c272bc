// Package dnstest runs a real DNS server on loopback for tests: it answers TXT queries from
// records the test sets, and may change while the test runs, over UDP and TCP on one port.
// Resolver returns a *net.Resolver (Go's own stub resolver) that sends every query to it, so
// code that proves a domain by a TXT record can be tested without the network.
//
// Start ties a server to one test and Launch returns one a test binary can share (Close it
// after m.Run). The server needs no external program, so it never skips.
//
// What the server answers: a name is matched without regard to case and with or without the
// trailing dot. A name with TXT records gets them for a TXT (or ANY) query and an empty answer
// (NODATA) for any other type; every other name gets NXDOMAIN, including the parents of a name
// that has records. Answers are authoritative, have a TTL of zero and carry no SOA record.
// A value longer than 255 bytes is sent as several character strings of one record, which
// LookupTXT joins again. Over UDP an answer larger than the client's buffer (512 bytes, or
// the EDNS0 size it offers: 1232 for Go's resolver) is truncated, and the client retries over
// TCP, as with a real server; Queries counts the queries each transport carried.
package dnstest
