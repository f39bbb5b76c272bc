package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/iamkit/iamkit/store"
)

const (
	maxBodyBytes     = 64 << 10 // request bodies larger than this are refused (413)
	maxPageLimit     = 100      // ngrok's page size bounds
	defaultPageLimit = 100
)

// decodeBody reads a JSON object from r's body into dst, a pointer to a struct whose json tags
// name every accepted field. It refuses, with ngrok's codes, a body over maxBodyBytes (212),
// a Content-Type other than JSON (210, 216), malformed JSON (213), a field dst does not name
// (214) and a value of the wrong type (215). An empty body is the empty object. Fields sent
// as null are left at their zero value, as if absent.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return newError(http.StatusRequestEntityTooLarge, codeBodyUnreadable, "The request body is larger than %d bytes.", maxBodyBytes)
		}
		return newError(http.StatusBadRequest, codeBodyUnreadable, "The server was unable to read the complete request body.")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	} else if err := checkContentType(r); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return newError(http.StatusBadRequest, codeBodyUnparseable, "The application/json request body could not be parsed: it must be one JSON object.")
	}
	known := jsonFields(reflect.TypeOf(dst).Elem())
	for name := range fields {
		if !known[name] {
			return newError(http.StatusBadRequest, codeUnknownParam, "The request parameter %q is unknown and not expected. The supported fields are: %s.",
				name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return newError(http.StatusBadRequest, codeInvalidValue, "The value provided for the request parameter %q is invalid: expected %s.", typeErr.Field, typeErr.Type)
		}
		return newError(http.StatusBadRequest, codeBodyUnparseable, "The application/json request body could not be parsed.")
	}
	return nil
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return newError(http.StatusBadRequest, codeContentTypeNone, "The request has a body but no Content-Type; use application/json.")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, codeContentType, "The Content-Type %q is not supported; use application/json.", ct)
	}
	return nil
}

// requireNoBody refuses a body on a request whose method takes none (ERR_NGROK_211).
func requireNoBody(r *http.Request) error {
	var one [1]byte
	if n, _ := io.ReadFull(r.Body, one[:]); n > 0 {
		return newError(http.StatusBadRequest, codeBodyNotAllowed, "The %s request you made does not expect a body, but you provided one.", r.Method)
	}
	return nil
}

// jsonFields returns the JSON names of t's fields.
func jsonFields(t reflect.Type) map[string]bool {
	out := make(map[string]bool, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// pageParams reads ngrok's paging query parameters: limit (1..100, default 100) and
// before_id, which checkID validates. ngrok's JavaScript client (@ngrok/ngrok-api 0.11) sends
// the cursor as beforeId, so that spelling is accepted too. Each may be given once: a repeat,
// or the cursor under both spellings, is ambiguous (which one wins depends on who reads it)
// and refused with 215, as is a query string that does not parse (a lenient reader drops the
// broken pairs). Any other query parameter is refused (214).
func pageParams(r *http.Request, checkID func(string) error) (store.Page, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return store.Page{}, paramError(http.StatusBadRequest, codeInvalidValue, "query",
			"The query string could not be parsed: give name=value pairs, percent-encoded and separated by '&'.")
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch {
		case name == "":
			return store.Page{}, paramError(http.StatusBadRequest, codeUnknownParam, "query",
				"The query string has a parameter without a name. The supported fields are: before_id, limit.")
		case !isPageParam(name):
			return store.Page{}, paramError(http.StatusBadRequest, codeUnknownParam, name,
				"The request parameter %q is unknown and not expected. The supported fields are: before_id, limit.", name)
		case len(q[name]) > 1:
			return store.Page{}, paramError(http.StatusBadRequest, codeInvalidValue, name,
				"The request parameter %q is given %d times; give it once.", name, len(q[name]))
		}
	}
	if q.Has("before_id") && q.Has("beforeId") {
		return store.Page{}, paramError(http.StatusBadRequest, codeInvalidValue, "before_id",
			"The request parameter before_id is given twice, as before_id and as beforeId; give it once.")
	}
	before := q.Get("before_id")
	if !q.Has("before_id") {
		before = q.Get("beforeId")
	}
	p := store.Page{Limit: defaultPageLimit, BeforeID: before}
	if s := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			return store.Page{}, paramError(http.StatusBadRequest, codeLimit, "limit",
				"The page size limit must be between 1 and %d but %q was provided.", maxPageLimit, s)
		}
		p.Limit = n
	}
	if p.BeforeID != "" {
		if err := checkID(p.BeforeID); err != nil {
			return store.Page{}, badID("before_id", err)
		}
	}
	return p, nil
}

// isPageParam reports whether name is a query parameter of a list.
func isPageParam(name string) bool {
	switch name {
	case "limit", "before_id", "beforeId":
		return true
	}
	return false
}

// badID is ERR_NGROK_227 for an ID parameter that checkID refused.
func badID(param string, err error) error {
	return paramError(http.StatusBadRequest, codeBadID, param, "The ID given for %s is invalid: %s.", param, reasonOf(err))
}
