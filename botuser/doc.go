// Package botuser manages bot users (service accounts): principals that own credentials
// independently of any person, belong to one account, and never log into the dashboard.
//
// Not implemented yet: this package holds only its documentation for now.
package botuser
