// Package identity holds accounts, plans and seats, users, memberships, invitations and the
// Principal that every action is attributed to.
package identity
