// Package rbac holds permissions, the built-in and custom roles, and the Authorizer that
// decides whether a principal may act on an account.
//
// Not implemented yet: this package holds only its documentation for now.
package rbac
