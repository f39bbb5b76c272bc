package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	scimsrv "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// PermissionName is the permission a SCIM client's credential needs, besides what each
// change needs (members:read, members:manage).
const PermissionName = "scim:write"

// PermissionSpec returns the registration of PermissionName for rbac.NewPermissions: team
// managers (and so service users with that role) and administrators hold it.
func PermissionSpec() rbac.PermissionSpec {
	return rbac.PermissionSpec{
		Name:        PermissionName,
		Description: "Provision and deprovision members through SCIM 2.0.",
		Roles:       []string{rbac.RoleTeamManager},
	}
}

// Defaults of the options.
const (
	DefaultPrefix     = "/scim/v2"
	DefaultMaxBody    = 1 << 20 // bytes of a request body
	DefaultMaxMembers = 10000   // members a listing walks before it answers tooMany
	maxPageSize       = 1000    // the ServiceProviderConfig's filter.maxResults
)

// Authenticate turns a request into the principal it acts as, from its credential. The
// facade passes one that accepts access tokens only (iamkit.IAM.SCIM).
type Authenticate func(r *http.Request) (identity.Principal, error)

// Option configures a Handler.
type Option func(*config)

type config struct {
	prefix     string
	baseURL    string
	maxBody    int64
	maxMembers int
	logger     *slog.Logger
	clock      store.Clock
	rand       io.Reader
}

// WithClock sets the clock of groups' times and of the IDs of groups and events.
func WithClock(c store.Clock) Option { return func(o *config) { o.clock = c } }

// WithRandom sets the randomness of IDs (crypto/rand by default).
func WithRandom(r io.Reader) Option { return func(o *config) { o.rand = r } }

// WithPrefix sets the path the handler is mounted at (DefaultPrefix, "/scim/v2"): requests
// are answered for the paths below it.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = strings.TrimRight(p, "/") } }

// WithBaseURL sets the absolute URL that resources' meta.location start with, such as
// "https://api.example.com/scim/v2". Without it locations are relative ("Users/<id>").
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = strings.TrimRight(u, "/") } }

// WithMaxBody bounds request bodies, in bytes (DefaultMaxBody).
func WithMaxBody(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithMaxMembers bounds how many members a listing walks (DefaultMaxMembers); a filter that
// is not `userName eq` over a larger account is refused with SCIM's tooMany.
func WithMaxMembers(n int) Option { return func(c *config) { c.maxMembers = n } }

// WithLogger sets where unexpected failures are logged (nothing by default).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Handler is a SCIM 2.0 service provider for the account of the principal each request
// authenticates as. It holds no mutable state and is safe for concurrent use.
type Handler struct {
	st    store.Store
	dir   *identity.Directory
	authz *rbac.Authorizer
	auth  Authenticate
	perm  rbac.Permission
	cfg   config
	srv   scimsrv.Server
	clock store.Clock
	ids   *id.Generator
	rec   audit.Recorder[identity.Resource]
}

// New returns a Handler over the store, the directory and the authorizer the rest of the
// library uses. authz's registry must hold PermissionName (register PermissionSpec): a
// registry without it is an error matching store.ErrInvalid on "permissions".
func New(st store.Store, dir *identity.Directory, authz *rbac.Authorizer, auth Authenticate, opts ...Option) (*Handler, error) {
	switch {
	case st == nil:
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	case dir == nil:
		return nil, store.Invalid("directory", store.CodeRequired, 0, "required")
	case authz == nil:
		return nil, store.Invalid("authorizer", store.CodeRequired, 0, "required")
	case auth == nil:
		return nil, store.Invalid("authenticate", store.CodeRequired, 0, "required")
	}
	perm, err := authz.Permission(PermissionName)
	if err != nil {
		return nil, store.Invalid("permissions", store.CodeInvalidValue, 0, "the registry must hold %s (scim.PermissionSpec)", PermissionName)
	}
	cfg := config{prefix: DefaultPrefix, maxBody: DefaultMaxBody, maxMembers: DefaultMaxMembers, clock: clock.System{}, rand: rand.Reader}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.maxBody <= 0 || cfg.maxMembers <= 0:
		return nil, store.Invalid("options", store.CodeOutOfRange, 0, "limits must be positive")
	case cfg.clock == nil:
		return nil, store.Invalid("clock", store.CodeRequired, 0, "must not be nil")
	case cfg.rand == nil:
		return nil, store.Invalid("random", store.CodeRequired, 0, "must not be nil")
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	ids := id.NewGenerator(cfg.clock, cfg.rand)
	h := &Handler{st: st, dir: dir, authz: authz, auth: auth, perm: perm, cfg: cfg, clock: cfg.clock, ids: ids,
		rec: audit.New(ids, cfg.clock, identity.ResourceOf)}
	h.srv, err = scimsrv.NewServer(&scimsrv.ServerArgs{
		ServiceProviderConfig: serviceProviderConfig(),
		ResourceTypes:         []scimsrv.ResourceType{h.userType(), h.groupType()},
	}, scimsrv.WithBaseURL(cfg.baseURL))
	if err != nil {
		return nil, err
	}
	return h, nil
}

const (
	rfc7644 = "https://www.rfc-editor.org/rfc/rfc7644"
	rfc6750 = "https://www.rfc-editor.org/rfc/rfc6750"
)

func serviceProviderConfig() *scimsrv.ServiceProviderConfig {
	// The library writes an absent URI as "", which is no URI (SCIMMY refuses it): both are
	// given.
	return &scimsrv.ServiceProviderConfig{
		DocumentationURI: optional.NewString(rfc7644),
		AuthenticationSchemes: []scimsrv.AuthenticationScheme{{
			Type:             scimsrv.AuthenticationTypeOauthBearerToken,
			Name:             "Bearer token",
			Description:      "An access token of a service user holding scim:write, with the scopes scim:write, members:read, members:manage and the permissions of the roles it grants.",
			SpecURI:          optional.NewString(rfc6750),
			DocumentationURI: optional.NewString(rfc6750),
			Primary:          true,
		}},
		MaxResults:       maxPageSize,
		SupportFiltering: true,
		SupportPatch:     true,
	}
}

func (h *Handler) userType() scimsrv.ResourceType {
	return scimsrv.ResourceType{
		ID:          optional.NewString("User"),
		Name:        "User",
		Description: optional.NewString("A member of the account."),
		Endpoint:    "/Users",
		Schema:      schema.CoreUserSchema(),
		// Entra ID sends the enterprise extension; it is accepted and not kept.
		SchemaExtensions: []scimsrv.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
		Handler:          users{h},
	}
}

func optionalString(s string) optional.String { return optional.NewString(s) }

func groupSchema() schema.Schema { return schema.CoreGroupSchema() }

type principalKey struct{}

// principalOf returns the principal ServeHTTP authenticated.
func principalOf(ctx context.Context) identity.Principal {
	p, _ := ctx.Value(principalKey{}).(identity.Principal)
	return p
}

// ServeHTTP authenticates the request, requires PermissionName of a service user, and
// serves the SCIM endpoints below the prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, h.cfg.prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Specified endpoint does not exist."})
		return
	}
	p, err := h.authenticate(r)
	if err != nil {
		writeError(w, toSCIM(err))
		return
	}
	body, err := h.normalizedBody(w, r)
	if err != nil {
		writeError(w, toSCIM(err))
		return
	}
	r2 := r.Clone(context.WithValue(r.Context(), principalKey{}, p))
	r2.URL.Path = "/v2" + rest
	r2.URL.RawPath = ""
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	h.srv.ServeHTTP(w, r2)
}

// authenticate returns the request's principal if it is a service user holding
// PermissionName (within its token's scopes).
func (h *Handler) authenticate(r *http.Request) (identity.Principal, error) {
	p, err := h.auth(r)
	if err != nil {
		return identity.Principal{}, err
	}
	if !p.IsBot() {
		return identity.Principal{}, &store.Error{Kind: store.ErrDenied, Code: CodeNotServiceUser,
			Msg: "SCIM clients authenticate with a credential of a service user"}
	}
	if err := h.authz.Require(r.Context(), p, h.perm); err != nil {
		return identity.Principal{}, err
	}
	return p, nil
}

// CodeNotServiceUser is the code of a SCIM request whose credential is not a service
// user's (store.ErrDenied).
const CodeNotServiceUser = "scim_not_service_user"

// normalizedBody reads the request body (at most maxBody bytes) and rewrites what Entra ID
// sends in place of SCIM's booleans: "active": "True" or "False", as a string.
func (h *Handler) normalizedBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return nil, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, store.Invalid("body", store.CodeTooLong, int(h.cfg.maxBody), "%d bytes at most", h.cfg.maxBody)
		}
		return nil, err
	}
	return NormalizeBooleans(data), nil
}

// NormalizeBooleans returns a SCIM request body with the string values "true" and "false"
// (in any case) of the "active" attribute turned into JSON booleans: at the top level (POST,
// PUT), as a PATCH operation's value for the path "active", and inside a PATCH operation's
// value object. Entra ID sends them so. A body that is not a JSON object is returned as it is.
func NormalizeBooleans(data []byte) []byte {
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if d.Decode(&doc) != nil || d.More() {
		return data
	}
	changed := fixActive(doc)
	for k, v := range doc {
		if !strings.EqualFold(k, "Operations") {
			continue
		}
		ops, _ := v.([]any)
		for _, o := range ops {
			if op, ok := o.(map[string]any); ok && fixOperation(op) {
				changed = true
			}
		}
	}
	if !changed {
		return data
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return data
	}
	return out
}

// fixOperation fixes the value of one PATCH operation.
func fixOperation(op map[string]any) bool {
	var path string
	for k, v := range op {
		if strings.EqualFold(k, "path") {
			path, _ = v.(string)
		}
	}
	for k, v := range op {
		if !strings.EqualFold(k, "value") {
			continue
		}
		if strings.EqualFold(path, "active") {
			if b, ok := boolString(v); ok {
				op[k] = b
				return true
			}
		}
		if m, ok := v.(map[string]any); ok && path == "" {
			return fixActive(m)
		}
	}
	return false
}

// fixActive turns a string "active" member of m into a boolean.
func fixActive(m map[string]any) bool {
	changed := false
	for k, v := range m {
		if strings.EqualFold(k, "active") {
			if b, ok := boolString(v); ok {
				m[k] = b
				changed = true
			}
		}
	}
	return changed
}

func boolString(v any) (bool, bool) {
	s, ok := v.(string)
	switch {
	case !ok:
		return false, false
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}
