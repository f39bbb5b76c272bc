package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/sso/scim"
	"github.com/iamkit/iamkit/store"
)

// deps are what the HTTP API is built from.
type deps struct {
	// IAM is every library service, with its HTTP layer: it authenticates API keys, authorizes,
	// and writes errors in ngrok's body (newIAM sets it up so). Its SSO, when it has one, adds
	// the SSO resources and the SAML endpoints.
	IAM *iamkit.IAM
	// SSOBaseURL is the base URL the IAM's SSO was set up with (what the IdP sees).
	SSOBaseURL string
	Logger     *slog.Logger
	// BaseURL is the external base of every "uri" and "next_page_uri" (e.g.
	// "https://api.example.com"): configuration, never the request's Host, so that a client
	// cannot be sent elsewhere by a forged header. Required; checkBaseURL says what it may be.
	BaseURL string
}

// Request header limits. http.Server answers requests over its MaxHeaderBytes itself, in
// plain text; it is set to the generous serverMaxHeaderBytes so that requests over
// maxRequestHeaderBytes reach the API, which refuses them with ngrok's JSON body (431).
const (
	maxRequestHeaderBytes = 32 << 10 // the request line and headers, as the API measures them
	serverMaxHeaderBytes  = 1 << 20  // http.Server.MaxHeaderBytes
)

type server struct {
	deps
	limiter store.Limiter // for the unauthenticated endpoints: the store's, else in process
	sso     *sso.Handler  // nil without SSO
	mux     *http.ServeMux
	methods map[string][]string // path pattern -> methods, for 405 answers
	// pageBufs holds *[]byte buffers for writeBotUserPage.
	pageBufs sync.Pool
}

// call is what an authenticated handler knows about its request.
type call struct {
	op        string             // the operation, e.g. "bot_users.create"
	principal identity.Principal // who is calling, through which API key
	base      string             // deps.BaseURL, for "uri" fields
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// newServer returns the HTTP API: ngrok's API v2 for bot users and credentials and iamkit's
// own resources, each request authenticated by an API key and authorized by d.IAM's HTTP
// layer. It fails if d.BaseURL is not an acceptable base URL (checkBaseURL).
func newServer(d deps) (http.Handler, error) {
	if err := checkBaseURL(d.BaseURL); err != nil {
		return nil, err
	}
	d.BaseURL = strings.TrimRight(d.BaseURL, "/")
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{deps: d, mux: http.NewServeMux(), methods: map[string][]string{}}
	if l, ok := store.LimiterOf(d.IAM.Store()); ok {
		s.limiter = l
	} else {
		var err error
		if s.limiter, err = store.NewMemoryLimiter(0, nil); err != nil {
			return nil, err
		}
	}
	if svc := d.IAM.SSO(); svc != nil {
		var err error
		if s.sso, err = sso.NewHandler(svc, loggedIn(d.IAM.Sessions())); err != nil {
			return nil, fmt.Errorf("sso: %w", err)
		}
	}
	s.routes()
	// SCIM 2.0 for identity providers (Okta, Entra ID): its own authentication (a service
	// user's access token with scim:write) and SCIM's error body, not ngrok's.
	scimHandler, err := d.IAM.SCIM(scim.WithBaseURL(d.BaseURL+scim.DefaultPrefix), scim.WithLogger(d.Logger))
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	s.mux.Handle(scim.DefaultPrefix+"/", scimHandler)
	s.mux.Handle(scim.DefaultPrefix, scimHandler)
	for path, methods := range s.methods {
		allow := strings.Join(methods, ", ")
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.IAM.WriteError(w, r, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "The method %s is not allowed on %s.", r.Method, r.URL.Path))
		})
	}
	notFound := func(w http.ResponseWriter, r *http.Request) { s.IAM.WriteError(w, r, errNotFound()) }
	s.mux.HandleFunc("/", notFound)
	if s.sso != nil {
		// A subtree pattern ("/sso/") makes the mux redirect its bare path ("/sso") to it;
		// the API answers that path as any other it does not serve.
		if bare := strings.TrimSuffix(s.sso.Pattern(), "/"); bare != "" {
			s.mux.HandleFunc(bare, notFound)
		}
	}
	return s.logRequests(s.guard(s.mux)), nil
}

func errNotFound() *apiError {
	return newError(http.StatusNotFound, codeNotFound, "Resource not found")
}

// guard refuses, before routing, what net/http would otherwise answer itself, in plain text
// or HTML rather than ngrok's JSON error:
//   - a request line and headers over maxRequestHeaderBytes (431; http.Server's own limit,
//     serverMaxHeaderBytes, is set higher so that this one is met first);
//   - a request-target that is not a clean absolute path: "..", "." or empty segments, "*",
//     an authority. The mux would redirect it to the cleaned path, and a client would follow
//     the redirect with its API key. Such a path names no resource: 404, as any path the API
//     does not serve.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case requestHeaderBytes(r) > maxRequestHeaderBytes:
			w.Header().Set("Connection", "close")
			s.IAM.WriteError(w, r, newError(http.StatusRequestHeaderFieldsTooLarge, codeHeaderTooLarge,
				"The request line and headers are larger than %d bytes.", maxRequestHeaderBytes))
		case !isCleanPath(r.URL.EscapedPath()):
			s.IAM.WriteError(w, r, errNotFound())
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// requestHeaderBytes is the size of r's request line and headers as sent, near enough:
// net/http has already parsed them.
func requestHeaderBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n
}

// isCleanPath reports whether p is an absolute path that net/http's ServeMux serves as it is,
// without redirecting to a cleaned form: no empty, "." or ".." segments. A trailing slash is
// kept, as the mux keeps it.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if p[len(p)-1] == '/' && clean != "/" {
		clean += "/"
	}
	return clean == p
}

// checkBaseURL accepts an absolute http or https URL with a host and nothing that cannot
// prefix a path: no user information, query or fragment.
func checkBaseURL(base string) error {
	invalid := func(reason string) error {
		return store.Invalid("base_url", store.CodeInvalidValue, 0, "%s", reason)
	}
	u, err := url.Parse(base)
	switch {
	case base == "":
		return invalid("required")
	case err != nil:
		return invalid("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("the scheme must be http or https")
	case u.Host == "":
		return invalid("a host is required")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || strings.Contains(base, "#"):
		return invalid("user information, a query or a fragment are not allowed")
	}
	return nil
}

func (s *server) routes() {
	s.botRoutes(botView{path: "/bot_users", listKey: "bot_users"})
	s.botRoutes(botView{path: "/service_users", listKey: "service_users"})

	for _, kind := range []store.CredentialKind{store.Authtoken, store.APIKey, store.SSHCredential, store.AccessToken} {
		k := kindInfoOf(kind)
		s.handle("POST "+k.path, k.op+".create", rbac.CredentialsWrite, s.createCredential(k))
		s.handle("GET "+k.path, k.op+".list", rbac.CredentialsRead, s.listCredentials(k))
		s.handle("GET "+k.path+"/{id}", k.op+".get", rbac.CredentialsRead, s.getCredential(k))
		s.handle("PATCH "+k.path+"/{id}", k.op+".update", rbac.CredentialsWrite, s.updateCredential(k))
		s.handle("DELETE "+k.path+"/{id}", k.op+".delete", rbac.CredentialsWrite, s.deleteCredential(k))
		if kind != store.SSHCredential { // an SSH key's secret is its holder's: nothing to rotate
			s.handle("POST "+k.path+"/{id}/rotate", k.op+".rotate", rbac.CredentialsWrite, s.rotateCredential(k))
		}
	}
	at := kindInfoOf(store.AccessToken)
	s.handle("POST "+at.path+"/{id}/revoke", at.op+".revoke", rbac.CredentialsWrite, s.revokeCredential(at))
	// Unauthenticated: the token is the proof (self-revoke), or GitHub's signature is.
	s.public("POST /tokens/revoke", "tokens.revoke", s.selfRevoke)
	s.public("POST /github/secret_scanning", "github.secret_scanning", func(w http.ResponseWriter, r *http.Request) error {
		s.IAM.GitHubSecretScanning().ServeHTTP(w, r)
		return nil
	})

	s.handle("GET /account", "account.get", rbac.AccountRead, s.getAccount)
	s.handle("GET /account/credential_policy", "account.credential_policy.get", rbac.AccountRead, s.getCredentialPolicy)
	s.handle("PATCH /account/credential_policy", "account.credential_policy.update", rbac.AccountManage, s.updateCredentialPolicy)

	s.handle("GET /members", "members.list", rbac.MembersRead, s.listMembers)
	s.handle("GET /members/{id}", "members.get", rbac.MembersRead, s.getMember)
	s.handle("PATCH /members/{id}", "members.set_roles", rbac.MembersManage, s.setMemberRoles)
	s.handle("POST /members/{id}/disable", "members.disable", rbac.MembersManage, s.disableMember)
	s.handle("POST /members/{id}/enable", "members.enable", rbac.MembersManage, s.enableMember)
	s.handle("DELETE /members/{id}", "members.remove", rbac.MembersManage, s.removeMember)

	s.handle("POST /invitations", "invitations.create", rbac.MembersInvite, s.createInvitation)
	s.handle("GET /invitations", "invitations.list", rbac.MembersRead, s.listInvitations)
	s.handle("GET /invitations/{id}", "invitations.get", rbac.MembersRead, s.getInvitation)
	s.handle("DELETE /invitations/{id}", "invitations.delete", rbac.MembersInvite, s.deleteInvitation)
	s.handle("POST /invitations/{id}/accept", "invitations.accept", authenticatedOnly, s.acceptInvitation)

	s.handle("POST /roles", "roles.create", rbac.RolesManage, s.createRole)
	s.handle("GET /roles", "roles.list", rbac.RolesRead, s.listRoles)
	s.handle("GET /roles/{id}", "roles.get", rbac.RolesRead, s.getRole)
	s.handle("PATCH /roles/{id}", "roles.update", rbac.RolesManage, s.updateRole)
	s.handle("DELETE /roles/{id}", "roles.delete", rbac.RolesManage, s.deleteRole)

	s.handle("GET /events", "events.list", rbac.EventsRead, s.listEvents)
	if s.IAM.EventStreams() != nil {
		s.streamRoutes()
	}

	s.ipRoutes()

	if s.sso != nil {
		s.ssoRoutes()
		s.domainRoutes()
	}
}

// authenticatedOnly, as handle's perm, asks for a valid API key and no permission in its
// account: the caller acts for itself and the library checks who it is (accepting one's own
// invitation into another account).
const authenticatedOnly rbac.Permission = 0

// handle registers an API operation: the request must carry Ngrok-Version: 2 and a valid API
// key (or access token) whose owner holds perm in the key's account (unless perm is
// authenticatedOnly), within the rate limits of the account's plan; then h runs, and an error it returns is written as ngrok's error body (the IAM's ErrorFormat).
func (s *server) handle(pattern, op string, perm rbac.Permission, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.methods[path] = append(s.methods[path], method)
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := iamkit.PrincipalFrom(r.Context())
		info := infoOf(r.Context())
		info.principalID, info.credentialID = p.ID, p.CredentialID
		if err := h(w, r, &call{op: op, principal: p, base: s.BaseURL}); err != nil {
			s.IAM.WriteError(w, r, err)
		}
	})
	if perm != authenticatedOnly {
		next = s.IAM.RequirePermission(perm)(next)
	}
	s.mux.Handle(pattern, s.operation(op, s.bearerAuth(s.IAM.RateLimit(next))))
}

// bearerAuth authenticates a request by an API key or an access token, iamkit's credential
// for both the agent and the API, which acts within its scopes. An authtoken is refused as
// ngrok refuses one (ERR_NGROK_206). The client's address is checked against the
// credential's allow-list.
func (s *server) bearerAuth(next http.Handler) http.Handler {
	byAPIKey := s.IAM.BearerAuthKind(store.APIKey)(next)
	byAnyKind := s.IAM.BearerAuth(next)
	accessToken := credential.TokenPrefix(store.AccessToken) + "_"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, err := iamkit.BearerToken(r); err == nil && strings.HasPrefix(token, accessToken) {
			byAnyKind.ServeHTTP(w, r)
			return
		}
		byAPIKey.ServeHTTP(w, r)
	})
}

// public registers an operation that needs no credential and no Ngrok-Version header: its
// authority is in the request itself (a token to revoke, a signed report). Nobody is
// authenticated to count requests against, so each client address may make publicRate of
// them per operation (a signature check costs more than its request; a token oracle should
// not take guesses at speed).
func (s *server) public(pattern, op string, h func(w http.ResponseWriter, r *http.Request) error) {
	method, path, _ := strings.Cut(pattern, " ")
	s.methods[path] = append(s.methods[path], method)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		infoOf(r.Context()).op = op
		err := s.allowPublic(r.Context(), w.Header(), op, iamkit.RemoteAddr(r))
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.IAM.WriteError(w, r, err)
		}
	})
}

// publicRate is how many requests one client address may make to one unauthenticated
// operation.
func publicRate() store.Rate { return store.Rate{Limit: 30, Period: time.Minute} }

// allowPublic counts a request of op from addr against publicRate; over it, the error says
// when to retry (429, ERR_NGROK_226, Retry-After).
func (s *server) allowPublic(ctx context.Context, h http.Header, op string, addr netip.Addr) error {
	rate := publicRate()
	ok, wait, err := s.limiter.Allow(ctx, "public:"+op+":"+addr.String(), rate)
	if err != nil || ok {
		return err
	}
	secs := int64((wait + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	return &store.Error{Kind: store.ErrLimitExceeded, Code: iamkit.CodeRateLimited, Field: "address", Limit: rate.Limit, RetryAfter: wait,
		Msg: fmt.Sprintf("too many requests from this address: at most %d per minute; retry after %d s", rate.Limit, secs)}
}

// operation names the request's operation, for its error body and its log line, and checks
// its Ngrok-Version header before next authenticates it.
func (s *server) operation(op string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoOf(r.Context()).op = op
		switch v, ok := r.Header["Ngrok-Version"]; {
		case !ok || len(v) == 0 || v[0] == "":
			s.IAM.WriteError(w, r, newError(http.StatusBadRequest, codeMissingVersion, "Your request has not specified an API version. Please include the version you wish to use in the Ngrok-Version header. Supported versions: 2."))
		case strings.TrimSpace(v[0]) != "2":
			s.IAM.WriteError(w, r, newError(http.StatusBadRequest, codeBadVersion, "The API version in the Ngrok-Version header is not supported. Supported versions: 2."))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// sync makes the Verifier and the Authorizer reflect a write that just committed, so that the
// next request sees it (a deleted API key is refused, a demoted member denied). It waits a
// bounded time: the caches catch up on their own within moments anyway.
func (s *server) sync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.IAM.Sync(ctx); err != nil {
		s.Logger.WarnContext(ctx, "sync", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// list is one page of a newest-first listing, fetched with one extra item to know whether
// another page follows.
func list[T any](w http.ResponseWriter, r *http.Request, c *call, p store.Page, items []T, idOf func(T) string, render func(page []T, next *string) any) error {
	items, next := nextPage(r, c, p, items, idOf)
	return writeJSON(w, http.StatusOK, render(items, next))
}

// nextPage cuts items, fetched with plusOne, to the client's page and returns the URI of the
// next page, or nil when there is none.
func nextPage[T any](r *http.Request, c *call, p store.Page, items []T, idOf func(T) string) ([]T, *string) {
	if len(items) <= p.Limit {
		return items, nil
	}
	items = items[:p.Limit]
	q := url.Values{"before_id": {idOf(items[len(items)-1])}}
	if r.URL.Query().Has("limit") {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	u := c.base + r.URL.Path + "?" + q.Encode()
	return items, &u
}

// plusOne is p asking for one more item than the client's limit.
func plusOne(p store.Page) store.Page { p.Limit++; return p }

// pathID returns the {id} path value. The library checks it (an ID of another kind, or
// malformed, is store.ErrInvalid naming the ID's field: ERR_NGROK_227).
func pathID(r *http.Request) string { return r.PathValue("id") }

// requestInfo is what the request log line reports, filled in as the request goes.
type requestInfo struct {
	opID         string
	op           string
	principalID  string
	credentialID string
}

type infoKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives every request an operation ID (returned in the Ngrok-Operation-Id header
// and in error bodies) and logs one line per request: method, path, status, duration,
// operation ID, and the principal and API key ID when known. Never a header value or a body.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{opID: newOperationID()}
		w.Header().Set("Ngrok-Operation-Id", info.opID)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("operation_id", info.opID),
		}
		if info.op != "" {
			attrs = append(attrs, slog.String("op", info.op))
		}
		if info.principalID != "" {
			attrs = append(attrs, slog.String("principal_id", info.principalID), slog.String("api_key_id", info.credentialID))
		}
		s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// newOperationID returns "op_" and 27 random base62 characters, like ngrok's.
func newOperationID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [27]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "op_" + string(b[:])
}
