// Package service holds what the services built on the Authorizer (bot users, IP
// restrictions) share: the clock, randomness and logger their options set, and the parts a
// constructor builds from them (an ID generator and an audit recorder).
package service
