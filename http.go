package iamkit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
)

// Principal is who acts: a user or a bot user, in one account, through one source and
// possibly one credential (identity.Principal).
type Principal = identity.Principal

// Authenticate verifies a bearer token of any kind (an API key, an authtoken, an access
// token; the kind comes from its prefix) and returns its owner as the Principal acting with
// it, through the API: an access token's Principal carries its scopes, which every
// authorization ANDs with the owner's grants. On a cache hit it reads nothing from the store
// and allocates nothing beyond the Principal's own fields, which the Verifier shares. A
// refusal is a credential.Reason matching store.ErrUnauthenticated (or store.ErrUnavailable
// when the store could not be reached and the cache was too stale to trust). Authenticate
// knows no client address: a credential with an address allow-list is refused
// (credential.ReasonIPNotAllowed), and so is any credential of an account with an enforced
// IP restriction of type api (store.ErrDenied, code iprestrict.CodeIPRestricted);
// AuthenticateFrom knows the address. A credential's ID sent in place
// of its token is refused with code CodeCredentialIDAsToken, so that the caller can be told
// what to send.
func (i *IAM) Authenticate(ctx context.Context, token string) (Principal, error) {
	return i.AuthenticateFrom(ctx, token, netip.Addr{})
}

// AuthenticateFrom is Authenticate for a client at addr (the zero Addr when unknown), which
// the account's IP restrictions of type api must also let in (iprestrict.Guard): a
// credential with an address allow-list is accepted only from an address in it, and its last
// use records addr.
func (i *IAM) AuthenticateFrom(ctx context.Context, token string, addr netip.Addr) (Principal, error) {
	res, err := i.verifier.VerifyTokenFrom(ctx, token, addr)
	if err != nil {
		return Principal{}, refusal(err, token, store.APIKey, store.Authtoken)
	}
	return i.admitAPI(ctx, res.Principal(identity.SourceAPI), addr)
}

// AuthenticateKind is Authenticate for a token that must be of one kind (store.APIKey or
// store.Authtoken), for an API that takes API keys only: a token of another kind is refused
// with credential.ReasonWrongKind, and only an ID of kind with CodeCredentialIDAsToken.
func (i *IAM) AuthenticateKind(ctx context.Context, kind store.CredentialKind, token string) (Principal, error) {
	return i.AuthenticateKindFrom(ctx, kind, token, netip.Addr{})
}

// AuthenticateKindFrom is AuthenticateKind for a client at addr, as AuthenticateFrom is
// Authenticate's.
func (i *IAM) AuthenticateKindFrom(ctx context.Context, kind store.CredentialKind, token string, addr netip.Addr) (Principal, error) {
	res, err := i.verifier.VerifyFrom(ctx, kind, token, addr)
	if err != nil {
		return Principal{}, refusal(err, token, kind)
	}
	return i.admitAPI(ctx, res.Principal(identity.SourceAPI), addr)
}

// admitAPI returns p unless the account's IP restrictions of type api refuse addr (an error
// matching store.ErrDenied, code iprestrict.CodeIPRestricted); a warn-only one records the
// would-be refusal and lets p in.
func (i *IAM) admitAPI(ctx context.Context, p Principal, addr netip.Addr) (Principal, error) {
	if err := i.guard.Check(ctx, iprestrict.API, p, addr); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// refusal is the error that refuses token, which the Verifier rejected with err: err itself,
// unless token is malformed because it is the ID of a credential of one of kinds.
func refusal(err error, token string, kinds ...store.CredentialKind) error {
	if !errors.Is(err, credential.ReasonMalformed) {
		return err
	}
	for _, k := range kinds {
		if startsAsID(token, k) {
			return store.NewError(store.ErrUnauthenticated, CodeCredentialIDAsToken,
				"a credential's ID was sent in place of its token: send the token shown when the credential was created")
		}
	}
	return err
}

// startsAsID reports whether token starts as the ID of a credential of kind does (ak_, cr_),
// as no token does: tokens have prefixes of their own (iak_, iat_). Like every refusal, the
// error that says so does not repeat the token.
func startsAsID(token string, kind store.CredentialKind) bool {
	var prefix id.Prefix
	switch kind {
	case store.APIKey:
		prefix = id.APIKey
	case store.Authtoken:
		prefix = id.Authtoken
	default:
		return false
	}
	rest, ok := strings.CutPrefix(token, string(prefix))
	return ok && strings.HasPrefix(rest, "_")
}

// RemoteAddr returns the address of a request's peer, the host of RemoteAddr, or the zero
// Addr when it does not parse. It is the HTTP layer's default client address
// (WithClientAddr).
func RemoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Require returns nil if p may use perm in its account, else an error matching
// store.ErrDenied (or the reason it could not decide).
func (i *IAM) Require(ctx context.Context, p Principal, perm rbac.Permission) error {
	return i.authz.Require(ctx, p, perm)
}

// principalKey is the request context key of the authenticated Principal.
type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p, as the middleware does.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the Principal the middleware authenticated for the request whose
// context ctx is, and false if there is none.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// BearerAuth returns middleware that authenticates every request by its
// "Authorization: Bearer <token>" header (AuthenticateFrom, with the client address of
// WithClientAddr) and hands it to next with the Principal in its context (PrincipalFrom). A
// request without a usable token is answered with the error, written by the IAM's
// ErrorFormat, and never reaches next.
func (i *IAM) BearerAuth(next http.Handler) http.Handler {
	return i.bearerAuth(next, i.AuthenticateFrom)
}

// bearerAuth is BearerAuth authenticating with authenticate.
func (i *IAM) bearerAuth(next http.Handler, authenticate func(context.Context, string, netip.Addr) (Principal, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := BearerToken(r)
		if err == nil {
			var p Principal
			if p, err = authenticate(r.Context(), token, i.addrOf(r)); err == nil {
				next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
				return
			}
		}
		i.WriteError(w, r, err)
	})
}

// BearerAuthKind returns middleware that is BearerAuth for tokens of one kind only
// (AuthenticateKind): an API that takes API keys refuses an authtoken.
func (i *IAM) BearerAuthKind(kind store.CredentialKind) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return i.bearerAuth(next, func(ctx context.Context, token string, addr netip.Addr) (Principal, error) {
			return i.AuthenticateKindFrom(ctx, kind, token, addr)
		})
	}
}

// Codes of the HTTP layer's own errors.
const (
	CodeMissingCredentials = "missing_credentials" // ErrUnauthenticated: no Authorization header
	CodeBadAuthorization   = "bad_authorization"   // ErrUnauthenticated: not "Bearer <token>"
	CodeNoPrincipal        = "no_principal"        // ErrUnauthenticated: Require without authentication before it
	// CodeCredentialIDAsToken: ErrUnauthenticated: the token starts as the ID of a credential
	// of a kind that was accepted does (ak_, cr_): its ID was sent in place of its token.
	CodeCredentialIDAsToken = "credential_id_as_token"
	CodeNotEnabled          = "not_enabled" // ErrNotFound: a handler of a feature the IAM was not built with
)

// BearerToken returns the token of a request's "Authorization: Bearer <token>" header. Its
// errors match store.ErrUnauthenticated and never repeat the header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 || h[0] == "" {
		return "", store.NewError(store.ErrUnauthenticated, CodeMissingCredentials, "the request has no Authorization header: send 'Authorization: Bearer <token>'")
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	token = strings.TrimSpace(token)
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", store.NewError(store.ErrUnauthenticated, CodeBadAuthorization, "the Authorization header is not one 'Bearer <token>'")
	}
	return token, nil
}

// RequirePermission returns middleware that lets a request through to next only if its
// Principal (put there by BearerAuth, or by the embedder with WithPrincipal) may use perm in
// its account; otherwise it answers with the error. Behind BearerAuth, a request whose
// credential and grants are cached costs no store read:
//
//	mux.Handle("GET /reports", iam.BearerAuth(iam.RequirePermission(reportsRead)(reports)))
func (i *IAM) RequirePermission(perm rbac.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				i.WriteError(w, r, store.NewError(store.ErrUnauthenticated, CodeNoPrincipal, "the request was not authenticated"))
				return
			}
			if err := i.authz.Require(r.Context(), p, perm); err != nil {
				i.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// GitHubSecretScanning returns the handler of GitHub's secret-scanning partner endpoint (a
// POST of a signed report; see credential.LeakResponder.HandleGitHubScan): it answers 200
// with the feedback GitHub takes, or the error in the IAM's ErrorFormat (401 for a signature
// that does not verify or a replayed report, 400 for a malformed or oversized one, 405 for
// another method). Without WithGitHubSecretScanning it answers 404. It needs no
// authentication: the signature is the authority.
func (i *IAM) GitHubSecretScanning() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i.leaks == nil {
			i.WriteError(w, r, store.NewError(store.ErrNotFound, CodeNotEnabled, "secret-scanning reports are not enabled"))
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, credential.MaxScanBody+1))
		if err != nil {
			i.WriteError(w, r, store.Wrap(store.ErrInvalid, credential.CodeScanMalformed, err, "the report could not be read"))
			return
		}
		feedback, err := i.leaks.HandleGitHubScan(r.Context(), r.Header.Get("Github-Public-Key-Identifier"),
			r.Header.Get("Github-Public-Key-Signature"), body)
		if err != nil {
			i.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(feedback)
	})
}

// Protect is BearerAuth and RequirePermission(perm) around next: the one line most endpoints
// need.
func (i *IAM) Protect(perm rbac.Permission, next http.Handler) http.Handler {
	return i.BearerAuth(i.RequirePermission(perm)(next))
}

// WriteError writes err as the response, in the IAM's ErrorFormat.
func (i *IAM) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	i.errs(w, r, HTTPStatus(err), err)
}

// ErrorFormat writes an error response with a status (HTTPStatus's, unless the format knows
// better). It must not include secrets: library errors never hold any.
type ErrorFormat func(w http.ResponseWriter, r *http.Request, status int, err error)

// HTTPStatus returns the status that answers err: 400 for ErrInvalid, 401 for
// ErrUnauthenticated, 403 for ErrDenied, ErrFeatureUnavailable and ErrLimitExceeded (429 when
// its code is CodeRateLimited or it says when to retry, store.Error.RetryAfter, as a
// throttled sign-in does), 404 for ErrNotFound, 409 for ErrConflict, 503 for
// ErrUnavailable and ErrClosed, 499 for a cancelled context, 504 for a context deadline, and
// 500 for anything else.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, store.ErrLimitExceeded) && (store.CodeOf(err) == CodeRateLimited || retryAfter(err) > 0):
		return http.StatusTooManyRequests
	case errors.Is(err, store.ErrDenied), errors.Is(err, store.ErrFeatureUnavailable), errors.Is(err, store.ErrLimitExceeded):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads it
	}
	return http.StatusInternalServerError
}

// CodeRateLimited is the code of an ErrLimitExceeded that answers 429.
const CodeRateLimited = "rate_limited"

// ErrorBody is the JSON body JSONErrors writes: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is one error as JSON: its stable code, a message, and for input errors the
// field and the limit.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// Detail returns err as an ErrorDetail. An error from outside the library's model (a bug, a
// dependency's error) keeps its text out of the message: it says only that something failed.
func Detail(err error) ErrorDetail {
	var e *store.Error
	d := ErrorDetail{Code: store.CodeOf(err)}
	switch {
	case errors.As(err, &e):
		d.Message, d.Field, d.Limit = e.Error(), e.Field, e.Limit
	case store.KindOf(err) != nil:
		d.Message = err.Error()
	case d.Code != store.CodeInternal:
		d.Message = err.Error() // a coded value such as credential.Reason
	default:
		d.Message = http.StatusText(HTTPStatus(err))
	}
	return d
}

// retryAfter returns the wait an error about a rate names (store.Error.RetryAfter), or 0.
func retryAfter(err error) time.Duration {
	var e *store.Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// JSONErrors is the default ErrorFormat: the status and ErrorBody as JSON, with a Retry-After
// header on 503 (one second) and on an error that names its wait (store.Error.RetryAfter, in
// whole seconds rounded up), and a WWW-Authenticate challenge on 401.
func JSONErrors(w http.ResponseWriter, r *http.Request, status int, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if wait := retryAfter(err); wait > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	} else if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="api"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: Detail(err)})
}
