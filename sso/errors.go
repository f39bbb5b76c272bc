package sso

import (
	"errors"
	"strings"
)

// Sentinel errors. Errors returned by this package match them with errors.Is; no caller needs
// to compare error strings.
var (
	// ErrInvalidMetadata: IdP metadata was rejected. The error is a *MetadataError.
	ErrInvalidMetadata = errors.New("sso: invalid IdP metadata")

	// ErrInvalidConfig: a ServiceProvider, IdentityProvider or option is unusable (a base URL
	// that is not absolute https, an ID with characters that cannot appear in a URL path, an
	// IdentityProvider that does not belong to the ServiceProvider). The error is a
	// *ConfigError.
	ErrInvalidConfig = errors.New("sso: invalid configuration")

	// ErrInvalidResponse: a SAML response failed validation. The error is a *ResponseError,
	// which also matches exactly one of the more specific sentinels below that say which
	// check failed. Store failures are not ErrInvalidResponse: they are returned wrapped so
	// that the caller can tell "reject the login" from "try again later".
	ErrInvalidResponse = errors.New("sso: invalid SAML response")

	// ErrResponseTooLarge: the form value or its XML exceeds the size caps
	// (WithMaxResponseSize, WithMaxXMLSize).
	ErrResponseTooLarge = errors.New("sso: SAML response too large")
	// ErrUnsafeXML: the XML is not stable under an encoding/xml round trip, carries a DTD,
	// an entity reference, a non-UTF-8 encoding, processing instructions, duplicate
	// attributes, names that are not qualified names, anything encoding/xml's tokenizer
	// refuses, or exceeds a limit: tokens (WithMaxXMLTokens), depth, attributes of one
	// element, namespace declarations in scope, name length.
	ErrUnsafeXML = errors.New("sso: unsafe XML")
	// ErrMalformedResponse: the message is not a well-formed SAML 2.0 Response of the one
	// supported shape (bad base64, not XML, such as a DEFLATE payload, which the HTTP-POST
	// binding does not allow, wrong root, missing or repeated elements, not exactly one
	// Assertion, a Signature in any position other than a direct child of the Response or
	// of the Assertion).
	ErrMalformedResponse = errors.New("sso: malformed SAML response")
	// ErrEncryptedAssertion: the response carries an EncryptedAssertion. iamkit does not
	// support assertion encryption (it publishes no encryption key), so such responses are
	// always rejected.
	ErrEncryptedAssertion = errors.New("sso: encrypted assertions are not supported")
	// ErrSignature: neither the Response nor the Assertion is signed, or a signature does
	// not verify against the IdP's metadata certificates, or the certificate that verifies
	// it is outside its validity period.
	ErrSignature = errors.New("sso: signature missing or invalid")
	// ErrAlgorithm: a signature uses an algorithm outside the allow-list (RSA or ECDSA with
	// SHA-256/384/512, SHA-256/384/512 digests, exclusive canonicalization).
	ErrAlgorithm = errors.New("sso: signature algorithm not allowed")
	// ErrStatus: the Response status is not Success.
	ErrStatus = errors.New("sso: SAML status is not success")
	// ErrDestination: the Response Destination is not this service provider's ACS URL.
	ErrDestination = errors.New("sso: wrong destination")
	// ErrIssuer: the Response or Assertion Issuer is not the IdP's entity ID.
	ErrIssuer = errors.New("sso: wrong issuer")
	// ErrAudience: an AudienceRestriction is missing or does not name this service provider.
	ErrAudience = errors.New("sso: wrong audience")
	// ErrRecipient: the bearer SubjectConfirmation is missing or its Recipient is not this
	// service provider's ACS URL.
	ErrRecipient = errors.New("sso: wrong subject confirmation")
	// ErrExpired: a NotOnOrAfter has passed (beyond the clock skew) or IssueInstant is older
	// than the maximum age.
	ErrExpired = errors.New("sso: assertion expired")
	// ErrNotYetValid: a NotBefore or IssueInstant lies in the future (beyond the clock skew).
	ErrNotYetValid = errors.New("sso: assertion not yet valid")
	// ErrUnknownRequest: InResponseTo names no outstanding request issued to this IdP: it
	// was never issued, was issued to another IdP, has expired, or was already used.
	ErrUnknownRequest = errors.New("sso: unknown or used request ID")
	// ErrUnsolicited: an IdP-initiated response (no InResponseTo) from an IdP that does not
	// allow IdP-initiated login.
	ErrUnsolicited = errors.New("sso: unsolicited response not allowed for this IdP")
	// ErrReplay: this assertion ID was already accepted.
	ErrReplay = errors.New("sso: assertion replayed")
	// ErrNoEmail: neither a mapped email attribute nor the NameID holds an email address.
	ErrNoEmail = errors.New("sso: no email address in assertion")

	// ErrKeyPolicy: a signing certificate's key is outside iamkit's key policy: RSA of at
	// least 2048 bits, or ECDSA on P-256, P-384 or P-521. ParseIdPMetadata refuses such a
	// certificate (a *MetadataError for KeyDescriptor); NewAuthnRequest and ValidateResponse
	// refuse an IdPMetadata built by hand that holds one (a *ConfigError, before the response
	// is read), and no signature is ever verified with one.
	ErrKeyPolicy = errors.New("sso: certificate key outside the key policy")

	// ErrUnsafeRelayState: an IdP-initiated RelayState that is not a same-origin relative path.
	ErrUnsafeRelayState = errors.New("sso: unsafe RelayState")
	// ErrBindingUnsupported: the IdP's metadata has no SingleSignOnService for the binding.
	ErrBindingUnsupported = errors.New("sso: IdP does not support this binding")
)

// MetadataError says which part of IdP metadata was rejected and why. It matches
// ErrInvalidMetadata. Err, if not nil, is the underlying cause.
type MetadataError struct {
	Field  string // e.g. "EntityDescriptor", "entityID", "SingleSignOnService", "KeyDescriptor"
	Reason string
	Err    error
}

// Error describes the rejected part of the metadata.
func (e *MetadataError) Error() string {
	return joinMsg("sso: invalid IdP metadata: "+e.Field, e.Reason, e.Err)
}

// Is reports whether target is ErrInvalidMetadata.
func (e *MetadataError) Is(target error) bool { return target == ErrInvalidMetadata }

// Unwrap returns the underlying cause, if any.
func (e *MetadataError) Unwrap() error { return e.Err }

// ConfigError says which configuration value is unusable. It matches ErrInvalidConfig.
// Err, if not nil, is the underlying cause (such as an error matching ErrKeyPolicy).
type ConfigError struct {
	Field  string
	Reason string
	Err    error
}

// Error names the field and the problem.
func (e *ConfigError) Error() string {
	return joinMsg("sso: invalid configuration: "+e.Field, e.Reason, e.Err)
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Unwrap returns the underlying cause, if any.
func (e *ConfigError) Unwrap() error { return e.Err }

// ResponseError says why a SAML response was rejected. It matches ErrInvalidResponse and its
// Kind (one of ErrResponseTooLarge, ErrUnsafeXML, ErrMalformedResponse, ErrEncryptedAssertion,
// ErrSignature, ErrAlgorithm, ErrStatus, ErrDestination, ErrIssuer, ErrAudience, ErrRecipient,
// ErrExpired, ErrNotYetValid, ErrUnknownRequest, ErrUnsolicited, ErrReplay, ErrNoEmail).
// Reason is a fixed description of the failed check and never contains values from the
// message; Err may quote parts of the message (a parser's or goxmldsig's error text).
type ResponseError struct {
	Kind   error
	Reason string
	Err    error // underlying cause (a parser, goxmldsig or store error), may be nil
}

// Error names the failed check, the reason and the cause.
func (e *ResponseError) Error() string {
	kind := "invalid SAML response"
	if e.Kind != nil {
		kind = strings.TrimPrefix(e.Kind.Error(), "sso: ")
	}
	return joinMsg("sso: "+kind, e.Reason, e.Err)
}

// Is reports whether target is ErrInvalidResponse or e.Kind.
func (e *ResponseError) Is(target error) bool {
	return target == ErrInvalidResponse || (e.Kind != nil && target == e.Kind)
}

// Unwrap returns the underlying cause, if any.
func (e *ResponseError) Unwrap() error { return e.Err }

func respErr(kind error, reason string) *ResponseError {
	return &ResponseError{Kind: kind, Reason: reason}
}

func respErrCause(kind error, reason string, cause error) *ResponseError {
	return &ResponseError{Kind: kind, Reason: reason, Err: cause}
}

func joinMsg(head, reason string, err error) string {
	var b strings.Builder
	b.WriteString(head)
	if reason != "" {
		b.WriteString(": ")
		b.WriteString(reason)
	}
	if err != nil {
		b.WriteString(": ")
		b.WriteString(err.Error())
	}
	return b.String()
}
