// Package iprestrict is account-wide IP restrictions, as ngrok has them: IP policies (named
// sets of rules), IP policy rules (an IPv4 or IPv6 prefix that a policy allows or denies) and
// IP restrictions, which apply policies to one way into an account: the dashboard, the API
// or agents. A restriction is enforced, or only warns (ngrok's warn-only mode): what it
// would refuse goes ahead and is recorded as an ip_restriction_warned.v0 audit event.
//
// Service manages the records; administrators change them (rbac.AccountManage) and members
// who see the account read them (rbac.AccountRead). Guard is the check: it compiles an
// account's restrictions once, caches them and follows the change feed through a
// store.Follower, so a request from an allowed address costs a map lookup and a few word
// comparisons, with no store read and no allocation.
//
// How an address is judged by one restriction: of the rules of its policies, the one with
// the longest prefix that holds the address decides (deny wins a tie); an address no rule
// holds is refused, and so is an unknown address (the zero netip.Addr). An address must
// pass every restriction of the type. An account without restrictions of a type lets every
// address in by it.
//
// Both types are safe for concurrent use.
package iprestrict
