// Package clock is the time source iamkit's packages take as a dependency, so tests can
// drive expiry and ordering without sleeping.
package clock
