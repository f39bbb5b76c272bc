// Package clock holds the store.Clock implementations iamkit's packages share: System, the
// default, and Fake, which tests advance by hand to drive expiry and ordering without
// sleeping.
package clock
