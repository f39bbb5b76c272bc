package iamkit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Principal is who acts: a user or a bot user, in one account, through one source and
// possibly one credential (identity.Principal).
type Principal = identity.Principal

// Authenticate verifies a bearer token of any kind (an API key, an authtoken; the kind comes
// from its prefix) and returns its owner as the Principal acting with it, through the API.
// On a cache hit it reads nothing from the store and allocates nothing beyond the Principal's
// own fields, which the Verifier shares. A refusal is a credential.Reason matching
// store.ErrUnauthenticated (or store.ErrUnavailable when the store could not be reached and
// the cache was too stale to trust).
func (i *IAM) Authenticate(ctx context.Context, token string) (Principal, error) {
	res, err := i.verifier.VerifyToken(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	return res.Principal(identity.SourceAPI), nil
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
// "Authorization: Bearer <token>" header (Authenticate) and hands it to next with the
// Principal in its context (PrincipalFrom). A request without a usable token is answered with
// the error, written by the IAM's ErrorFormat, and never reaches next.
func (i *IAM) BearerAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := BearerToken(r)
		if err == nil {
			var p Principal
			if p, err = i.Authenticate(r.Context(), token); err == nil {
				next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
				return
			}
		}
		i.WriteError(w, r, err)
	})
}

// Codes of the HTTP layer's own errors.
const (
	CodeMissingCredentials = "missing_credentials" // ErrUnauthenticated: no Authorization header
	CodeBadAuthorization   = "bad_authorization"   // ErrUnauthenticated: not "Bearer <token>"
	CodeNoPrincipal        = "no_principal"        // ErrUnauthenticated: Require without authentication before it
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
