// Package testenv is the test fixture the domain packages' tests share: a memstore on a fake
// clock, a plan catalog, an Authorizer and a Directory, and helpers that create accounts,
// members and credentials and fail the test on any error. It is for tests only.
package testenv
