// Package members is the member-creation core that identity's Directory (direct additions,
// invitation acceptance) and sso's just-in-time provisioning share: functions over a
// store.Tx that count seats, write a membership, consume or accept an invitation and record
// the events, and end a member's dashboard sessions. It checks no permission: its callers decide who may act (identity asks its
// Guard; sso acts on the authority of the account's identity provider).
package members
