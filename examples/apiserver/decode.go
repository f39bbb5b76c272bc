package main

import (
	"bytes"
	"cmp"
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
	"unicode/utf16"
	"unicode/utf8"

	"github.com/iamkit/iamkit/store"
)

const (
	maxBodyBytes     = 64 << 10 // request bodies larger than this are refused (413)
	maxPageLimit     = 100      // ngrok's page size bounds
	defaultPageLimit = 100
)

// decodeBody reads a JSON object from r's body into dst, a pointer to a struct whose json tags
// name every accepted field. It refuses, with ngrok's codes, a body over maxBodyBytes (212),
// a Content-Type other than JSON (210, 216), malformed JSON (213), what encoding/json would
// let through silently (checkJSON: text that is not UTF-8, a key given twice; 215), a field
// dst does not name (214) and a value of the wrong type (215). An empty body is the empty
// object. Fields sent as null are left at their zero value, as if absent.
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
	if err := checkJSON(data); err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return errNotOneObject()
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
			// encoding/json names a field of an embedded struct after the struct's Go name
			// (limitsCreate.expires_at): the body knows only the field.
			field := typeErr.Field
			if head, rest, ok := strings.Cut(field, "."); ok && !known[head] {
				field = rest
			}
			return paramError(http.StatusBadRequest, codeInvalidValue, field, "The value provided for the request parameter %q is invalid: expected %s.", field, typeErr.Type)
		}
		return newError(http.StatusBadRequest, codeBodyUnparseable, "The application/json request body could not be parsed.")
	}
	return nil
}

// errNotOneObject is ERR_NGROK_213 for a body that is not exactly one JSON object.
func errNotOneObject() *apiError {
	return newError(http.StatusBadRequest, codeBodyUnparseable, "The application/json request body could not be parsed: it must be one JSON object.")
}

// checkJSON walks a JSON text that must be one object and refuses, with 215 naming the field,
// what encoding/json would accept silently, differently from other readers of the same
// bytes: a string or key that is not valid UTF-8, or whose \u escapes leave a surrogate
// unpaired (both decode to U+FFFD, so different inputs collide), and an object key given
// twice, at any depth (the last one wins). A field is named as "name", "acl[1]" or
// "acl[0].a"; a key that is not text is named by its object, or "body". Anything that is
// not exactly one JSON object is 213.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are not converted, so none can fail here
	var w jsonWalk
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		switch {
		case errors.Is(err, io.EOF) && w.done:
			return nil
		case err != nil || w.done:
			return errNotOneObject()
		}
		if err := w.step(tok, data[start:dec.InputOffset()]); err != nil {
			return err
		}
	}
}

// jsonWalk is where checkJSON is in the body: the containers it is inside.
type jsonWalk struct {
	stack []jsonContainer
	done  bool // the top-level object has been read
}

// step reads one token; raw is its text, after any separator and space before it.
func (w *jsonWalk) step(tok json.Token, raw []byte) error {
	if len(w.stack) == 0 {
		if tok != json.Delim('{') {
			return errNotOneObject()
		}
		w.stack = append(w.stack, jsonContainer{object: true, keys: map[string]bool{}})
		return nil
	}
	top := &w.stack[len(w.stack)-1]
	switch {
	case tok == json.Delim('}') || tok == json.Delim(']'):
		w.close()
		return nil
	case top.object && !top.hasKey:
		return top.addKey(tok.(string), raw) // the decoder reads only strings as keys
	}
	path := top.childPath()
	switch t := tok.(type) {
	case json.Delim: // '{' or '[': the value is read when it closes
		w.stack = append(w.stack, jsonContainer{object: t == '{', path: path, keys: map[string]bool{}})
		return nil
	case string:
		if !isText(raw) {
			return errNotText(path)
		}
	}
	top.next()
	return nil
}

// close leaves the innermost container, which is a value of the one around it.
func (w *jsonWalk) close() {
	w.stack = w.stack[:len(w.stack)-1]
	if len(w.stack) == 0 {
		w.done = true
		return
	}
	w.stack[len(w.stack)-1].next()
}

// jsonContainer is an object or array checkJSON is inside.
type jsonContainer struct {
	object bool
	path   string          // its own path; "" for the body
	keys   map[string]bool // an object's keys so far
	key    string          // an object's key whose value comes next, when hasKey
	hasKey bool
	index  int // an array's next item
}

// addKey records an object's next key, refusing one that is not text or was given before.
func (c *jsonContainer) addKey(key string, raw []byte) error {
	if !isText(raw) {
		return errNotText(cmp.Or(c.path, "body"))
	}
	field := c.join(key)
	if c.keys[key] {
		return paramError(http.StatusBadRequest, codeInvalidValue, field, "The request parameter %q is given more than once; give it once.", field)
	}
	c.keys[key], c.key, c.hasKey = true, key, true
	return nil
}

// childPath is the path of the value read next in c.
func (c *jsonContainer) childPath() string {
	if c.object {
		return c.join(c.key)
	}
	return c.path + "[" + strconv.Itoa(c.index) + "]"
}

func (c *jsonContainer) join(key string) string {
	if c.path == "" {
		return key
	}
	return c.path + "." + key
}

// next moves past the value just read.
func (c *jsonContainer) next() {
	if c.object {
		c.hasKey = false
	} else {
		c.index++
	}
}

func errNotText(field string) *apiError {
	return paramError(http.StatusBadRequest, codeInvalidValue, field, "The value provided for the request parameter %q is not valid text: it must be UTF-8, with \\u escapes of surrogates in pairs.", field)
}

// isText reports whether raw, a JSON string token (with any separator before it), is valid
// UTF-8 and escapes surrogates only in high-low pairs: what decodes without U+FFFD being put
// in place of something.
func isText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character: a backslash escaping a backslash is skipped whole
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw, i+1)
		i += 4
		switch {
		case !ok || utf16.IsSurrogate(r) && r >= 0xdc00: // a low surrogate first
			return false
		case utf16.IsSurrogate(r):
			low, ok := hex4(raw, i+3)
			if !ok || raw[i+1] != '\\' || raw[i+2] != 'u' || !utf16.IsSurrogate(low) || low < 0xdc00 {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 reads the four hex digits of a \u escape at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
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
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, jsonFields(f.Type)) // an embedded struct's fields are the body's
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// pageParams reads ngrok's paging query parameters: limit (1..100, default 100) and before_id
// (which the library validates when it reads the page). ngrok's JavaScript client
// (@ngrok/ngrok-api 0.11) sends the cursor as beforeId, so that spelling is accepted too. Each
// may be given once: a repeat, or the cursor under both spellings, is ambiguous (which one
// wins depends on who reads it) and refused with 215, as is a query string that does not parse
// (a lenient reader drops the broken pairs). Any other query parameter is refused (214).
func pageParams(r *http.Request) (store.Page, error) {
	p, _, err := pageParamsWith(r)
	return p, err
}

// pageParamsWith is pageParams for a list that also takes the query parameters named extra
// (each at most once), which it returns with the rest of the query for the caller to read.
func pageParamsWith(r *http.Request, extra ...string) (store.Page, url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return store.Page{}, nil, paramError(http.StatusBadRequest, codeInvalidValue, "query",
			"The query string could not be parsed: give name=value pairs, percent-encoded and separated by '&'.")
	}
	supported := strings.Join(append([]string{"before_id", "limit"}, extra...), ", ")
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch {
		case name == "":
			return store.Page{}, nil, paramError(http.StatusBadRequest, codeUnknownParam, "query",
				"The query string has a parameter without a name. The supported fields are: %s.", supported)
		case !isPageParam(name) && !slices.Contains(extra, name):
			return store.Page{}, nil, paramError(http.StatusBadRequest, codeUnknownParam, name,
				"The request parameter %q is unknown and not expected. The supported fields are: %s.", name, supported)
		case len(q[name]) > 1:
			return store.Page{}, nil, paramError(http.StatusBadRequest, codeInvalidValue, name,
				"The request parameter %q is given %d times; give it once.", name, len(q[name]))
		}
	}
	if q.Has("before_id") && q.Has("beforeId") {
		return store.Page{}, nil, paramError(http.StatusBadRequest, codeInvalidValue, "before_id",
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
			return store.Page{}, nil, paramError(http.StatusBadRequest, codeLimit, "limit",
				"The page size limit must be between 1 and %d but %q was provided.", maxPageLimit, s)
		}
		p.Limit = n
	}
	return p, q, nil
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
