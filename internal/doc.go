// Package internal groups helpers shared by iamkit's packages; it has no code itself.
package internal
