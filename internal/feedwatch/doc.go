// Package feedwatch follows a store's change feed on behalf of a cache: it hands every commit
// to a Handler in order, asks it to flush when commits may have been missed, and tells how
// recently it knew itself to be in sync, so the cache can bound its staleness.
package feedwatch
