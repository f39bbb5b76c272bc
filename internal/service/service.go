package service

import (
	"crypto/rand"
	"io"
	"log/slog"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Config is what a service's WithClock, WithRandom and WithLogger options set.
type Config struct {
	Clock  store.Clock
	Rand   io.Reader
	Logger *slog.Logger
}

// Defaults is the system clock, crypto/rand and no logger.
func Defaults() Config { return Config{Clock: clock.System{}, Rand: rand.Reader} }

// Parts are what a service builds from its Config.
type Parts struct {
	Clock store.Clock
	IDs   *id.Generator
	Rec   audit.Recorder[identity.Resource]
	Log   *slog.Logger
}

// Build checks the required arguments every such service takes (a store and an Authorizer)
// and the Config, and builds the Parts. A nil argument or option is an error matching
// store.ErrInvalid that names it.
func Build(st store.Store, authz *rbac.Authorizer, c Config) (Parts, error) {
	switch {
	case st == nil:
		return Parts{}, store.Invalid("store", store.CodeRequired, 0, "required")
	case authz == nil:
		return Parts{}, store.Invalid("authorizer", store.CodeRequired, 0, "required")
	case c.Clock == nil:
		return Parts{}, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case c.Rand == nil:
		return Parts{}, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(c.Clock, c.Rand)
	return Parts{Clock: c.Clock, IDs: ids, Rec: audit.New(ids, c.Clock, identity.ResourceOf), Log: log}, nil
}
