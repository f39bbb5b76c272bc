package sso

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/iamkit/iamkit/store"
)

// Defaults of the Validator options.
const (
	DefaultClockSkew   = 90 * time.Second
	DefaultMaxIssueAge = 3 * time.Minute
	DefaultRequestTTL  = 10 * time.Minute
	// DefaultMaxResponseSize caps the base64 SAMLResponse form value: the base64 of
	// DefaultMaxXMLSize, with room for line breaks.
	DefaultMaxResponseSize = 96 << 10
	// DefaultMaxXMLSize caps the XML of a response: 8 times the largest real response in
	// the tests (crewjam/saml's, 7.8 KB), and about what DefaultMaxXMLTokens fill with
	// verbose attribute values.
	DefaultMaxXMLSize = 64 << 10
	// DefaultMaxXMLTokens caps the tokens of a response, each attribute counting as one
	// more: 5 times the largest real response in the tests (190), and room for about 280
	// group values. Each token costs a refused response up to 2 µs of CPU and an accepted
	// one some 3.5 µs; see BENCHMARKS.md before raising it with WithMaxXMLTokens.
	DefaultMaxXMLTokens = 1024
)

// Fixed limits on the XML of a response (and of IdP metadata), which the pre-scan enforces
// before anything costlier reads the document; see BENCHMARKS.md. Real documents stay far
// below them: in the testdata and crewjam/saml's responses the deepest nesting is 7, the
// most attributes on one element 8, the most namespace declarations in scope 5, the
// longest name 31 bytes.
const (
	maxXMLDepth     = 32  // element nesting
	maxXMLAttrs     = 24  // attributes of one element, namespace declarations included
	maxXMLNSInScope = 32  // namespace declarations in scope at any one point
	maxXMLNameLen   = 128 // bytes of an element or attribute name, prefix included
)

const (
	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
	cmBearer      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	maxIDLength   = 256
)

// IdentityProvider is one IdP configured for an account, as the Validator needs it. It is a
// plain value; the Validator only reads it.
type IdentityProvider struct {
	// ID is iamkit's ID of the IdP ("idp_..."); it scopes request IDs and the replay cache.
	ID string
	// Metadata is the parsed IdP metadata; only its certificates verify responses.
	Metadata *IdPMetadata
	// AllowIdPInitiated accepts unsolicited (IdP-initiated) responses. Off by default: such
	// logins have no login-CSRF protection; they are still subject to every other check,
	// the replay cache included.
	AllowIdPInitiated bool
	// Attributes maps SAML attributes to email, name and groups; the zero value uses the
	// defaults (see AttributeMapping).
	Attributes AttributeMapping
}

// Assertion is the verified outcome of a SAML login: values taken only from XML whose
// signature verified with the IdP's metadata certificates. Each call returns a new value
// that the caller owns.
type Assertion struct {
	IdPID        string // iamkit's IdP ID
	IdPEntityID  string // the verified Issuer
	NameID       string
	NameIDFormat string
	Email        string // from the mapped email attribute, else the NameID
	Name         string // display name, else "given surname", else empty
	Groups       []string
	// Attributes holds every attribute by Name, values in document order.
	Attributes   map[string][]string
	SessionIndex string
	AssertionID  string
	IssueInstant time.Time
	AuthnInstant time.Time
	// NotOnOrAfter is the earliest of the assertion's Conditions and bearer
	// SubjectConfirmationData NotOnOrAfter.
	NotOnOrAfter time.Time
	// SessionNotOnOrAfter is the AuthnStatement's SessionNotOnOrAfter, or zero.
	SessionNotOnOrAfter time.Time
	// InResponseTo is the request ID this response answered, empty when IdP-initiated.
	InResponseTo string
	IdPInitiated bool
}

// Validator checks SAML responses and tracks AuthnRequest IDs. It holds no per-IdP state:
// the IdP and SP are arguments of each call. It is safe for concurrent use once built,
// provided its store and clock are.
type Validator struct {
	store           SingleUseStore
	clock           store.Clock
	skew            time.Duration
	maxIssueAge     time.Duration
	requestTTL      time.Duration
	maxResponseSize int
	maxXMLSize      int
	maxXMLTokens    int
	lim             xmlLimits // limits on a response document
}

// ValidatorOption configures a Validator.
type ValidatorOption func(*Validator)

// WithClockSkew sets the tolerance applied to every time comparison (default 90 s).
func WithClockSkew(d time.Duration) ValidatorOption { return func(v *Validator) { v.skew = d } }

// WithMaxIssueAge sets how old a Response or Assertion IssueInstant may be (default 3 min,
// plus the clock skew).
func WithMaxIssueAge(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.maxIssueAge = d }
}

// WithRequestTTL sets how long a tracked AuthnRequest ID stays usable (default 10 min): the
// time a user may take to sign in at the IdP.
func WithRequestTTL(d time.Duration) ValidatorOption {
	return func(v *Validator) { v.requestTTL = d }
}

// WithMaxResponseSize caps the length of the base64 SAMLResponse form value
// (default DefaultMaxResponseSize).
func WithMaxResponseSize(n int) ValidatorOption {
	return func(v *Validator) { v.maxResponseSize = n }
}

// WithMaxXMLSize caps the XML after base64 decoding (default DefaultMaxXMLSize). Nothing is
// ever inflated: the HTTP-POST binding does not use DEFLATE.
func WithMaxXMLSize(n int) ValidatorOption { return func(v *Validator) { v.maxXMLSize = n } }

// WithMaxXMLTokens caps the XML tokens of a response, each attribute counting as one more
// (default DefaultMaxXMLTokens, at most 1<<20). Raise it, with WithMaxXMLSize, only for an
// IdP that sends hundreds of groups and cannot filter them: a hostile response costs CPU in
// proportion (see BENCHMARKS.md).
func WithMaxXMLTokens(n int) ValidatorOption { return func(v *Validator) { v.maxXMLTokens = n } }

// NewValidator returns a Validator that keeps request IDs and the replay cache in store and
// reads the time from clock. A nil store or clock is an error matching store.ErrInvalid that
// names it; an option out of range has code CodeConfigInvalid.
func NewValidator(store SingleUseStore, clock store.Clock, opts ...ValidatorOption) (*Validator, error) {
	switch {
	case store == nil:
		return nil, required("store")
	case clock == nil:
		return nil, required("clock")
	}
	v := &Validator{
		store:           store,
		clock:           clock,
		skew:            DefaultClockSkew,
		maxIssueAge:     DefaultMaxIssueAge,
		requestTTL:      DefaultRequestTTL,
		maxResponseSize: DefaultMaxResponseSize,
		maxXMLSize:      DefaultMaxXMLSize,
		maxXMLTokens:    DefaultMaxXMLTokens,
	}
	for _, o := range opts {
		o(v)
	}
	switch {
	case v.skew < 0 || v.skew > 10*time.Minute:
		return nil, configErr("clock_skew", "must be between 0 and 10 minutes", nil)
	case v.maxIssueAge <= 0 || v.maxIssueAge > time.Hour:
		return nil, configErr("max_issue_age", "must be positive and at most an hour", nil)
	case v.requestTTL <= 0 || v.requestTTL > 24*time.Hour:
		return nil, configErr("request_ttl", "must be positive and at most a day", nil)
	case v.maxResponseSize <= 0 || v.maxXMLSize <= 0:
		return nil, configErr("max_response_size", "sizes must be positive", nil)
	case v.maxXMLTokens <= 0 || v.maxXMLTokens > 1<<20:
		return nil, configErr("max_xmltokens", "must be positive and at most 1<<20", nil)
	}
	v.lim = responseLimits(v.maxXMLSize, v.maxXMLTokens)
	return v, nil
}

// TrackRequest records req's ID as an outstanding request of req's IdP, usable once, for the
// request TTL. Call it before redirecting the user to the IdP.
func (v *Validator) TrackRequest(ctx context.Context, req *AuthnRequest) error {
	if req == nil || !pathSafeID(req.IdPID) || req.ID == "" {
		return configErr("authn_request", "missing ID or IdP ID", nil)
	}
	err := v.store.PutSingleUse(ctx, requestKey(req.IdPID, req.ID), []byte(req.IdPID), v.clock.Now().Add(v.requestTTL))
	if err != nil {
		return fmt.Errorf("sso: tracking request: %w", err)
	}
	return nil
}

// ValidateResponse checks the base64 SAMLResponse form value posted to sp's ACS URL against
// idp, and returns the verified assertion. sp must be the ServiceProvider of idp (sp.IdPID
// equal to idp.ID).
//
// The checks run cheapest first, so that a hostile message costs little however it is
// built (see BENCHMARKS.md): size caps on the form value and on the XML, which must be the
// base64 of the XML itself (the HTTP-POST binding never uses DEFLATE, so nothing is
// inflated); a UTF-8 document without DTD or entities, within the XML limits (tokens,
// depth, attributes, namespace declarations, name lengths; see DefaultMaxXMLTokens), as a
// streaming pre-scan finds before anything else reads it; a Response root with exactly
// one Assertion, a direct child, and no EncryptedAssertion; Signatures only as direct
// children of the Response or the Assertion; the Response signature, if any, and the
// Assertion signature, if any, verified with goxmldsig against the IdP's metadata
// certificates only (at least one of the two must be present), each referencing its
// parent's ID, with allow-listed algorithms; then, reading only from the
// verified elements: Version 2.0; Status Success; Destination equal to the ACS URL (required
// when the Response is signed); Response Issuer (if present) and Assertion Issuer equal to
// the IdP's entity ID; IssueInstants neither in the future nor older than the maximum age;
// exactly one bearer SubjectConfirmation whose Recipient is the ACS URL, NotOnOrAfter in the
// future and InResponseTo equal to the Response's; Conditions with NotBefore and
// NotOnOrAfter around now and every AudienceRestriction naming sp.EntityID; an
// AuthnStatement; an email (see AttributeMapping). Then the assertion ID enters the replay
// cache until the assertion expires; the document must survive an encoding/xml round trip
// unchanged (mattermost/xml-roundtrip-validator, the costliest check per token, so the last
// one: only a response the IdP signed, not seen before, gets there); and the InResponseTo
// request ID is taken from the store, which proves it was issued to this IdP and not used
// before; with no InResponseTo the response is accepted only if idp.AllowIdPInitiated.
//
// When only the Assertion is signed, the Response's own attributes (Destination, Status,
// InResponseTo) are unsigned: they are checked but never used as data, and InResponseTo
// must equal the signed SubjectConfirmationData's.
//
// A rejected response gives an error matching store.ErrUnauthenticated whose code names the
// failed check (CodeSignature, CodeAudience, CodeReplay, ...); a store failure gives a
// wrapped store error instead. An idp whose metadata has no certificate, more than eight, or
// one whose key is outside the key policy (see CodeKeyPolicy; ParseIdPMetadata never returns
// such metadata, but an IdPMetadata built by hand may hold anything) is refused before the
// response is read, with store.ErrInvalid (code CodeKeyPolicy or CodeConfigInvalid): the
// configuration is at fault, not the response.
func (v *Validator) ValidateResponse(ctx context.Context, sp *ServiceProvider, idp *IdentityProvider, samlResponse string) (*Assertion, error) {
	if err := checkTarget(sp, idp); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg, err := v.screen(samlResponse)
	if err != nil {
		return nil, err
	}
	return v.validate(ctx, sp, idp, msg)
}

// checkTarget checks the arguments of ValidateResponse other than the message.
func checkTarget(sp *ServiceProvider, idp *IdentityProvider) error {
	if sp == nil || idp == nil || idp.Metadata == nil {
		return configErr("validate_response", "sp, idp and idp.Metadata are required", nil)
	}
	if !pathSafeID(idp.ID) || sp.IdPID != idp.ID {
		return configErr("validate_response", "sp is not the ServiceProvider of idp", nil)
	}
	if sp.ACSURL == "" || sp.EntityID == "" {
		return configErr("validate_response", "sp has no ACS URL or entity ID", nil)
	}
	if len(idp.Metadata.Certificates) == 0 {
		return configErr("id_pmetadata.certificates", "no signing certificate", nil)
	}
	return checkCertificates(idp.Metadata.Certificates)
}

// maxFormBody is the most of a form body posted to the ACS worth reading: a SAMLResponse
// within the size cap even if every character came percent-encoded (three bytes each),
// and room for RelayState (RelayStatePath takes 1024 bytes) and the field names. Reading
// and decoding a larger body would cost more than refusing it.
func (v *Validator) maxFormBody() int64 { return 3*int64(v.maxResponseSize) + 8<<10 }

// screenedResponse is a SAMLResponse form value that passed screen: its XML, within the
// size caps and the XML limits.
type screenedResponse struct{ xml []byte }

// screen runs the checks that need nothing but the message, and cost little: the size
// caps, base64 without DEFLATE (decode), UTF-8 and the pre-scan of the XML limits. Callers
// that must read the store or parse metadata to validate a response (Service.CompleteLogin)
// screen it first, so that a hostile message costs them nothing more.
func (v *Validator) screen(samlResponse string) (screenedResponse, error) {
	raw, err := v.decode(samlResponse)
	if err != nil {
		return screenedResponse{}, err
	}
	if err := screenXML(raw, v.lim); err != nil {
		return screenedResponse{}, xmlRefusal(err)
	}
	return screenedResponse{xml: raw}, nil
}

// validate is ValidateResponse for a message that passed screen.
func (v *Validator) validate(ctx context.Context, sp *ServiceProvider, idp *IdentityProvider, msg screenedResponse) (*Assertion, error) {
	if err := checkTarget(sp, idp); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := v.clock.Now()
	raw := msg.xml

	// The checks run cheapest first (see BENCHMARKS.md): the size caps in decode, the XML
	// limits and the parse, the shape and the signatures, the SAML conditions, the replay
	// cache, and only then the round-trip check, which costs microseconds per token. The
	// checks are pure functions of the message, so their order decides what a refusal
	// costs, not whether a response is accepted: only a document the IdP signed, and not
	// seen before, reaches the round trip.
	doc, err := parseScreenedXML(raw, v.lim)
	if err != nil {
		return nil, xmlRefusal(err)
	}
	vr, err := verifyResponse(doc.Root(), idp.Metadata.Certificates, now)
	if err != nil {
		return nil, err
	}
	a, deadline, err := v.checkResponse(vr, sp, idp, now)
	if err != nil {
		return nil, err
	}

	// Single-use state after the signature and the conditions, so that a forged or broken
	// response burns nothing. (One the IdP signed that then fails the round trip burns its
	// own assertion ID, which it could never use.)
	if err := v.store.PutSingleUse(ctx, assertionKey(idp.ID, a.AssertionID), []byte{1}, deadline); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, respErrCause(CodeReplay, "assertion ID already used", err)
		}
		return nil, fmt.Errorf("sso: recording assertion ID: %w", err)
	}
	if err := checkRoundTrip(raw, v.lim); err != nil {
		return nil, xmlRefusal(err)
	}
	if a.InResponseTo != "" {
		val, err := v.store.TakeSingleUse(ctx, requestKey(idp.ID, a.InResponseTo))
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, respErrCause(CodeUnknownRequest, "InResponseTo is not an outstanding request of this IdP", err)
			}
			return nil, fmt.Errorf("sso: taking request ID: %w", err)
		}
		if string(val) != idp.ID {
			return nil, respErr(CodeUnknownRequest, "request was issued to another IdP")
		}
	}
	return a, nil
}

// xmlRefusal is the rejected-response error for a document parseUntrustedXML or checkRoundTrip
// refused.
func xmlRefusal(err error) error {
	var pe *xmlParseError
	if errors.As(err, &pe) && pe.unsafe {
		return respErrCause(CodeUnsafeXML, "document refused", err)
	}
	return respErrCause(CodeMalformedResponse, "document is not XML", err)
}

func responseLimits(maxBytes, maxTokens int) xmlLimits {
	return xmlLimits{maxBytes: maxBytes, maxTokens: maxTokens, maxDepth: maxXMLDepth,
		maxAttrs: maxXMLAttrs, maxNSInScope: maxXMLNSInScope, maxNameLen: maxXMLNameLen}
}

// decode turns the form value into XML bytes, cheapest checks first: the length of the
// form value, the decoded length (known before decoding), then the decoding itself. The
// HTTP-POST binding carries base64 of the XML itself, never DEFLATE (SAML 2.0 Bindings,
// 3.5.4; DEFLATE belongs to the HTTP-Redirect binding), so nothing is ever inflated: a
// payload that does not decode to XML is refused as malformed.
func (v *Validator) decode(s string) ([]byte, error) {
	if len(s) > v.maxResponseSize {
		return nil, respErr(CodeResponseTooLarge, "SAMLResponse form value exceeds the size cap")
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	if base64.StdEncoding.DecodedLen(len(s)) > v.maxXMLSize+2 { // +2: DecodedLen counts padding
		return nil, respErr(CodeResponseTooLarge, "XML exceeds the size cap")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, respErrCause(CodeMalformedResponse, "SAMLResponse is not base64", err)
	}
	if len(b) > v.maxXMLSize {
		return nil, respErr(CodeResponseTooLarge, "XML exceeds the size cap")
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '<' {
		return nil, respErr(CodeMalformedResponse, "SAMLResponse is not XML (the HTTP-POST binding does not use DEFLATE)")
	}
	return b, nil
}

// verifiedResponse is what survives signature verification.
type verifiedResponse struct {
	// response is the Response element goxmldsig returned when the Response is signed;
	// otherwise the unverified Response, which is only checked, never read for data.
	response       *etree.Element
	responseSigned bool
	// assertion is always an element goxmldsig returned (directly, or inside response).
	assertion *etree.Element
}

// verifyResponse checks the document's shape and verifies its signatures.
func verifyResponse(root *etree.Element, certs []*x509.Certificate, now time.Time) (*verifiedResponse, error) {
	if !isEl(root, nsProtocol, "Response") {
		return nil, respErr(CodeMalformedResponse, "root element is not a SAML 2.0 protocol Response")
	}
	var assertions, sigs []*etree.Element
	encrypted := false
	ids := map[string]bool{}
	dupID := false
	walk(root, func(el *etree.Element) {
		switch {
		case isEl(el, nsAssertion, "Assertion"):
			assertions = append(assertions, el)
		case isEl(el, nsAssertion, "EncryptedAssertion"), isEl(el, nsXMLEnc, "EncryptedData"):
			encrypted = true
		case isEl(el, nsDSig, "Signature"):
			sigs = append(sigs, el)
		}
		if id, ok := attrValue(el, "ID"); ok {
			dupID = dupID || ids[id]
			ids[id] = true
		}
	})
	if encrypted {
		return nil, respErr(CodeEncryptedAssertion, "encrypted assertions are not supported")
	}
	if dupID {
		return nil, respErr(CodeMalformedResponse, "two elements share an ID")
	}
	if len(assertions) != 1 {
		return nil, respErr(CodeMalformedResponse, "want exactly one Assertion")
	}
	assertion := assertions[0]
	if assertion.Parent() != root {
		return nil, respErr(CodeMalformedResponse, "the Assertion is not a direct child of the Response")
	}
	if err := checkID(attrOr(root, "ID")); err != nil {
		return nil, err
	}
	if err := checkID(attrOr(assertion, "ID")); err != nil {
		return nil, err
	}
	var respSig, assertSig *etree.Element
	for _, s := range sigs {
		switch {
		case s.Parent() == root && respSig == nil:
			respSig = s
		case s.Parent() == assertion && assertSig == nil:
			assertSig = s
		default:
			return nil, respErr(CodeMalformedResponse, "Signature in an unexpected position, or repeated")
		}
	}
	if respSig == nil && assertSig == nil {
		return nil, respErr(CodeSignature, "neither the Response nor the Assertion is signed")
	}

	vr := &verifiedResponse{response: root}
	if respSig != nil {
		out, err := verifySigned(root, respSig, certs, now)
		if err != nil {
			return nil, err
		}
		vr.response, vr.responseSigned = out, true
		// Re-derive the assertion from the verified bytes; its own signature, if any, is
		// still in there.
		a, n := oneChild(out, nsAssertion, "Assertion")
		if n != 1 {
			return nil, respErr(CodeMalformedResponse, "want exactly one Assertion in the signed Response")
		}
		assertion = a
		assertSig = nil
		if s, n := oneChild(a, nsDSig, "Signature"); n == 1 {
			assertSig = s
		} else if n > 1 {
			return nil, respErr(CodeMalformedResponse, "Signature repeated")
		}
		vr.assertion = assertion
	}
	if assertSig != nil {
		out, err := verifySigned(assertion, assertSig, certs, now)
		if err != nil {
			return nil, err
		}
		vr.assertion = out
	}
	return vr, nil
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLength || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return respErr(CodeMalformedResponse, "missing or unusable ID attribute")
	}
	return nil
}

// parseTime reads an xs:dateTime attribute; ok is false when it is absent.
func parseTime(el *etree.Element, name string) (t time.Time, ok bool, err error) {
	s, ok := attrValue(el, name)
	if !ok {
		return time.Time{}, false, nil
	}
	t, err = time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, true, respErrCause(CodeMalformedResponse, "bad "+name, err)
	}
	return t, true, nil
}

func requireTime(el *etree.Element, name string) (time.Time, error) {
	t, ok, err := parseTime(el, name)
	if err != nil {
		return t, err
	}
	if !ok {
		return t, respErr(CodeMalformedResponse, "missing "+name)
	}
	return t, nil
}

// checkIssueInstant rejects an instant in the future or older than the maximum age.
func (v *Validator) checkIssueInstant(t, now time.Time) error {
	if t.After(now.Add(v.skew)) {
		return respErr(CodeNotYetValid, "IssueInstant is in the future")
	}
	if now.Sub(t) > v.maxIssueAge+v.skew {
		return respErr(CodeExpired, "IssueInstant is older than the maximum age")
	}
	return nil
}

// notBefore and notOnOrAfter apply the skew to a validity window.
func (v *Validator) checkNotBefore(t, now time.Time) error {
	if now.Add(v.skew).Before(t) {
		return respErr(CodeNotYetValid, "NotBefore is in the future")
	}
	return nil
}

func (v *Validator) checkNotOnOrAfter(t, now time.Time) error {
	if !now.Before(t.Add(v.skew)) {
		return respErr(CodeExpired, "NotOnOrAfter has passed")
	}
	return nil
}

// issuerOf returns the text of el's saml:Issuer child; present is false when there is none.
func issuerOf(el *etree.Element) (issuer string, present bool, err error) {
	is, n := oneChild(el, nsAssertion, "Issuer")
	switch {
	case n == 0:
		return "", false, nil
	case n > 1:
		return "", true, respErr(CodeMalformedResponse, "Issuer repeated")
	}
	if f, ok := attrValue(is, "Format"); ok && f != nameIDFormatEntity {
		return "", true, respErr(CodeIssuer, "Issuer Format is not entity")
	}
	txt, ok := textOf(is)
	if !ok {
		return "", true, respErr(CodeMalformedResponse, "Issuer is not text")
	}
	return strings.TrimSpace(txt), true, nil
}

func (v *Validator) checkResponse(vr *verifiedResponse, sp *ServiceProvider, idp *IdentityProvider, now time.Time) (*Assertion, time.Time, error) {
	var zero time.Time
	r, a := vr.response, vr.assertion

	// The Response.
	if attrOr(r, "Version") != "2.0" {
		return nil, zero, respErr(CodeMalformedResponse, "Response Version is not 2.0")
	}
	rIssue, err := requireTime(r, "IssueInstant")
	if err != nil {
		return nil, zero, err
	}
	if err := v.checkIssueInstant(rIssue, now); err != nil {
		return nil, zero, err
	}
	dest, hasDest := attrValue(r, "Destination")
	if vr.responseSigned && !hasDest {
		return nil, zero, respErr(CodeDestination, "signed Response has no Destination")
	}
	if hasDest && dest != sp.ACSURL {
		return nil, zero, respErr(CodeDestination, "Destination is not this service provider's ACS URL")
	}
	if iss, present, err := issuerOf(r); err != nil {
		return nil, zero, err
	} else if present && iss != idp.Metadata.EntityID {
		return nil, zero, respErr(CodeIssuer, "Response Issuer is not the IdP's entity ID")
	}
	st, n := oneChild(r, nsProtocol, "Status")
	if n != 1 {
		return nil, zero, respErr(CodeMalformedResponse, "want exactly one Status")
	}
	sc, n := oneChild(st, nsProtocol, "StatusCode")
	if n != 1 {
		return nil, zero, respErr(CodeMalformedResponse, "want exactly one StatusCode")
	}
	if attrOr(sc, "Value") != statusSuccess {
		return nil, zero, respErr(CodeStatus, "StatusCode is not Success")
	}
	respIRT, respHasIRT := attrValue(r, "InResponseTo")

	// The Assertion, read only from verified XML.
	if attrOr(a, "Version") != "2.0" {
		return nil, zero, respErr(CodeMalformedResponse, "Assertion Version is not 2.0")
	}
	out := &Assertion{IdPID: idp.ID, AssertionID: attrOr(a, "ID")}
	if out.IssueInstant, err = requireTime(a, "IssueInstant"); err != nil {
		return nil, zero, err
	}
	if err := v.checkIssueInstant(out.IssueInstant, now); err != nil {
		return nil, zero, err
	}
	iss, present, err := issuerOf(a)
	if err != nil {
		return nil, zero, err
	}
	if !present || iss != idp.Metadata.EntityID {
		return nil, zero, respErr(CodeIssuer, "Assertion Issuer is not the IdP's entity ID")
	}
	out.IdPEntityID = iss

	// Subject.
	subj, n := oneChild(a, nsAssertion, "Subject")
	if n != 1 {
		return nil, zero, respErr(CodeMalformedResponse, "want exactly one Subject")
	}
	nid, n := oneChild(subj, nsAssertion, "NameID")
	if n != 1 {
		return nil, zero, respErr(CodeMalformedResponse, "want exactly one (unencrypted) NameID")
	}
	txt, ok := textOf(nid)
	// XML whitespace only: a Unicode space (U+00A0, ...) is part of the subject, not padding.
	if out.NameID = strings.Trim(txt, " \t\r\n"); !ok || out.NameID == "" || len(out.NameID) > 1024 {
		return nil, zero, respErr(CodeMalformedResponse, "NameID is empty or not text")
	}
	out.NameIDFormat = attrOr(nid, "Format")
	confs := childrenNS(subj, nsAssertion, "SubjectConfirmation")
	if len(confs) != 1 || attrOr(confs[0], "Method") != cmBearer {
		return nil, zero, respErr(CodeRecipient, "want exactly one bearer SubjectConfirmation")
	}
	scd, n := oneChild(confs[0], nsAssertion, "SubjectConfirmationData")
	if n != 1 {
		return nil, zero, respErr(CodeRecipient, "want exactly one SubjectConfirmationData")
	}
	if attrOr(scd, "Recipient") != sp.ACSURL {
		return nil, zero, respErr(CodeRecipient, "Recipient is not this service provider's ACS URL")
	}
	scdNOA, err := requireTime(scd, "NotOnOrAfter")
	if err != nil {
		return nil, zero, err
	}
	if err := v.checkNotOnOrAfter(scdNOA, now); err != nil {
		return nil, zero, err
	}
	if nb, ok, err := parseTime(scd, "NotBefore"); err != nil {
		return nil, zero, err
	} else if ok {
		if err := v.checkNotBefore(nb, now); err != nil {
			return nil, zero, err
		}
	}
	scdIRT, scdHasIRT := attrValue(scd, "InResponseTo")
	if respHasIRT != scdHasIRT || respIRT != scdIRT {
		return nil, zero, respErr(CodeUnknownRequest, "InResponseTo of the Response and of the SubjectConfirmationData differ")
	}
	if scdHasIRT {
		if err := checkID(scdIRT); err != nil {
			return nil, zero, respErr(CodeUnknownRequest, "InResponseTo is empty or unusable")
		}
		out.InResponseTo = scdIRT
	} else {
		if !idp.AllowIdPInitiated {
			return nil, zero, respErr(CodeUnsolicited, "response has no InResponseTo and the IdP does not allow IdP-initiated login")
		}
		out.IdPInitiated = true
	}

	// Conditions.
	cond, n := oneChild(a, nsAssertion, "Conditions")
	if n != 1 {
		return nil, zero, respErr(CodeMalformedResponse, "want exactly one Conditions")
	}
	nb, err := requireTime(cond, "NotBefore")
	if err != nil {
		return nil, zero, err
	}
	if err := v.checkNotBefore(nb, now); err != nil {
		return nil, zero, err
	}
	condNOA, err := requireTime(cond, "NotOnOrAfter")
	if err != nil {
		return nil, zero, err
	}
	if err := v.checkNotOnOrAfter(condNOA, now); err != nil {
		return nil, zero, err
	}
	restrictions := 0
	for _, c := range cond.ChildElements() {
		switch {
		case isEl(c, nsAssertion, "AudienceRestriction"):
			restrictions++
			match := false
			for _, au := range childrenNS(c, nsAssertion, "Audience") {
				if t, ok := textOf(au); ok && strings.TrimSpace(t) == sp.EntityID {
					match = true
				}
			}
			if !match {
				return nil, zero, respErr(CodeAudience, "an AudienceRestriction does not name this service provider")
			}
		case isEl(c, nsAssertion, "OneTimeUse"), isEl(c, nsAssertion, "ProxyRestriction"):
			// OneTimeUse is what the replay cache enforces anyway; ProxyRestriction only
			// limits what we may do with the assertion, and we pass it on to nobody.
		default:
			return nil, zero, respErr(CodeMalformedResponse, "unsupported condition")
		}
	}
	if restrictions == 0 {
		return nil, zero, respErr(CodeAudience, "no AudienceRestriction")
	}
	out.NotOnOrAfter = condNOA
	if scdNOA.Before(condNOA) {
		out.NotOnOrAfter = scdNOA
	}

	// AuthnStatement.
	authn := childrenNS(a, nsAssertion, "AuthnStatement")
	if len(authn) == 0 {
		return nil, zero, respErr(CodeMalformedResponse, "no AuthnStatement")
	}
	for i, as := range authn {
		t, ok, err := parseTime(as, "SessionNotOnOrAfter")
		if err != nil {
			return nil, zero, err
		}
		if ok {
			if err := v.checkNotOnOrAfter(t, now); err != nil {
				return nil, zero, err
			}
		}
		if i == 0 {
			out.SessionIndex = attrOr(as, "SessionIndex")
			out.SessionNotOnOrAfter = t
			if out.AuthnInstant, err = requireTime(as, "AuthnInstant"); err != nil {
				return nil, zero, err
			}
		}
	}

	// Attributes.
	var attrs []samlAttribute
	for _, stmt := range childrenNS(a, nsAssertion, "AttributeStatement") {
		for _, at := range childrenNS(stmt, nsAssertion, "Attribute") {
			sa := samlAttribute{name: attrOr(at, "Name"), friendlyName: attrOr(at, "FriendlyName")}
			for _, av := range childrenNS(at, nsAssertion, "AttributeValue") {
				if t, ok := textOf(av); ok {
					sa.values = append(sa.values, t)
				}
			}
			attrs = append(attrs, sa)
		}
	}
	out.Email, out.Name, out.Groups, err = mapIdentity(idp.Attributes.withDefaults(), attrs, out.NameID)
	if err != nil {
		return nil, zero, err
	}
	out.Attributes = make(map[string][]string, len(attrs))
	for _, sa := range attrs {
		if sa.name != "" {
			out.Attributes[sa.name] = append(out.Attributes[sa.name], sa.values...)
		}
	}

	// The assertion stops being acceptable at the earlier of its NotOnOrAfter and its
	// IssueInstant's maximum age, plus the skew. The replay cache keeps its ID until then
	// plus one more skew, for SP instances whose clocks differ, and at least a second.
	deadline := out.NotOnOrAfter
	if d := out.IssueInstant.Add(v.maxIssueAge); d.Before(deadline) {
		deadline = d
	}
	deadline = deadline.Add(2 * v.skew)
	if floor := now.Add(time.Second); deadline.Before(floor) {
		deadline = floor
	}
	return out, deadline, nil
}
