package scim

import (
	"encoding/json"
	"errors"
	"net/http"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/iamkit/iamkit/store"
)

// toSCIM turns a library error into SCIM's error (RFC 7644 section 3.12): ErrNotFound 404,
// ErrConflict 409 (uniqueness), ErrInvalid 400 (invalidValue, naming the field),
// ErrUnauthenticated 401, ErrDenied, ErrFeatureUnavailable and ErrLimitExceeded 403, anything
// else 500 without detail. An error that already is SCIM's passes through.
func toSCIM(err error) scimerrors.ScimError {
	var se scimerrors.ScimError
	if errors.As(err, &se) {
		return se
	}
	var se2 *scimerrors.ScimError
	if errors.As(err, &se2) {
		return *se2
	}
	detail := ""
	var e *store.Error
	if errors.As(err, &e) {
		detail = e.Error()
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Resource not found."}
	case errors.Is(err, store.ErrConflict):
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: detail}
	case errors.Is(err, store.ErrInvalid):
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail}
	case errors.Is(err, store.ErrUnauthenticated):
		return scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: detail}
	case errors.Is(err, store.ErrDenied), errors.Is(err, store.ErrFeatureUnavailable), errors.Is(err, store.ErrLimitExceeded):
		return scimerrors.ScimError{Status: http.StatusForbidden, Detail: detail}
	}
	return scimerrors.ScimErrorInternal
}

// mutability is SCIM's error for a change to an attribute this server keeps fixed.
func mutability(detail string) error {
	return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeMutability, Detail: detail}
}

// invalidValue is SCIM's error for a missing or unusable value.
func invalidValue(detail string) error {
	return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: detail}
}

// writeError writes e as SCIM's error body with its status.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	raw, err := json.Marshal(e)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(raw)
}

// fail converts err for a ResourceHandler's return, logging what is unexpected.
func (h *Handler) fail(r *http.Request, err error) error {
	se := toSCIM(err)
	if se.Status == http.StatusInternalServerError {
		h.cfg.logger.ErrorContext(r.Context(), "scim", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return se
}
