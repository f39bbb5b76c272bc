package sso

import (
	"fmt"
	"time"

	"github.com/iamkit/iamkit/store"
)

// The codes of a rejected SAML response: each error matches store.ErrUnauthenticated, and
// its code (store.CodeOf) says which check of the SAML checklist failed.
const (
	// CodeResponseTooLarge: the form value or its XML exceeds the size caps
	// (WithMaxResponseSize, WithMaxXMLSize).
	CodeResponseTooLarge = "saml_too_large"
	// CodeUnsafeXML: the XML is not stable under an encoding/xml round trip, carries a DTD,
	// an entity reference, a non-UTF-8 encoding, processing instructions, duplicate
	// attributes, names that are not qualified names, anything encoding/xml's tokenizer
	// refuses, or exceeds a limit: tokens (WithMaxXMLTokens), depth, attributes of one
	// element, namespace declarations in scope, name length.
	CodeUnsafeXML = "saml_unsafe_xml"
	// CodeMalformedResponse: the message is not a well-formed SAML 2.0 Response of the one
	// supported shape (bad base64, not XML, such as a DEFLATE payload, which the HTTP-POST
	// binding does not allow, wrong root, missing or repeated elements, not exactly one
	// Assertion, a Signature in any position other than a direct child of the Response or
	// of the Assertion).
	CodeMalformedResponse = "saml_malformed"
	// CodeEncryptedAssertion: the response carries an EncryptedAssertion. iamkit does not
	// support assertion encryption (it publishes no encryption key).
	CodeEncryptedAssertion = "saml_encrypted_assertion"
	// CodeSignature: neither the Response nor the Assertion is signed, or a signature does
	// not verify against the IdP's metadata certificates, or the certificate that verifies
	// it is outside its validity period.
	CodeSignature = "saml_signature"
	// CodeAlgorithm: a signature uses an algorithm outside the allow-list (RSA or ECDSA with
	// SHA-256/384/512, SHA-256/384/512 digests, exclusive canonicalization).
	CodeAlgorithm = "saml_algorithm"
	// CodeStatus: the Response status is not Success.
	CodeStatus = "saml_status"
	// CodeDestination: the Response Destination is not this service provider's ACS URL.
	CodeDestination = "saml_destination"
	// CodeIssuer: the Response or Assertion Issuer is not the IdP's entity ID.
	CodeIssuer = "saml_issuer"
	// CodeAudience: an AudienceRestriction is missing or does not name this service provider.
	CodeAudience = "saml_audience"
	// CodeRecipient: the bearer SubjectConfirmation is missing or its Recipient is not this
	// service provider's ACS URL.
	CodeRecipient = "saml_recipient"
	// CodeExpired: a NotOnOrAfter has passed (beyond the clock skew) or IssueInstant is
	// older than the maximum age.
	CodeExpired = "saml_expired"
	// CodeNotYetValid: a NotBefore or IssueInstant lies in the future (beyond the clock skew).
	CodeNotYetValid = "saml_not_yet_valid"
	// CodeUnknownRequest: InResponseTo names no outstanding request issued to this IdP: it
	// was never issued, was issued to another IdP, has expired, or was already used.
	CodeUnknownRequest = "saml_unknown_request"
	// CodeUnsolicited: an IdP-initiated response (no InResponseTo) from an IdP that does not
	// allow IdP-initiated login.
	CodeUnsolicited = "saml_unsolicited"
	// CodeReplay: this assertion ID was already accepted.
	CodeReplay = "saml_replay"
	// CodeNoEmail: neither a mapped email attribute nor the NameID holds an email address.
	CodeNoEmail = "saml_no_email"
	// CodeRelayState: an SP-initiated response did not come back with the RelayState of its
	// own request from the browser that began the login (a missing, used, expired or
	// foreign key, or login CSRF).
	CodeRelayState = "saml_relay_state"
)

// The codes of this package's other errors.
const (
	// CodeMetadataInvalid: IdP metadata was rejected (store.ErrInvalid; Field is
	// "metadata_xml." and the rejected part of the document, such as
	// "metadata_xml.KeyDescriptor").
	CodeMetadataInvalid = "idp_metadata_invalid"
	// CodeKeyPolicy: a signing certificate's key is outside iamkit's key policy: RSA of at
	// least 2048 bits, or ECDSA on P-256, P-384 or P-521 (store.ErrInvalid). ParseIdPMetadata
	// refuses such a certificate; NewAuthnRequest and ValidateResponse refuse an IdPMetadata
	// built by hand that holds one, before the response is read.
	CodeKeyPolicy = "key_policy"
	// CodeConfigInvalid: a ServiceProvider, IdentityProvider or option is unusable (a base
	// URL that is not absolute https, an ID with characters that cannot appear in a URL
	// path, an IdentityProvider that does not belong to the ServiceProvider)
	// (store.ErrInvalid; Field names it).
	CodeConfigInvalid = "config_invalid"
	// CodeBindingUnsupported: the IdP's metadata has no SingleSignOnService for the binding
	// (store.ErrInvalid).
	CodeBindingUnsupported = "binding_unsupported"
	// CodeRelayStateUnsafe: an IdP-initiated RelayState, or a return path, that is not a
	// same-origin relative path (store.ErrInvalid).
	CodeRelayStateUnsafe = "relay_state_unsafe"
	// CodeLastIdentityProvider: the account's SSO enforcement is "enforced" and this is its
	// last identity provider, so it cannot be deleted (store.ErrConflict).
	CodeLastIdentityProvider = "last_identity_provider"
	// CodeNoIdentityProvider: enforcement cannot become "enforced" while the account has no
	// identity provider (store.ErrConflict).
	CodeNoIdentityProvider = "no_identity_provider"
	// CodeSessionInvalid: a session token was rejected: malformed, oversized, signed with
	// another key or algorithm, expired, of another account, or carrying unusable claims
	// (store.ErrUnauthenticated).
	CodeSessionInvalid = "session_invalid"
	// CodeSessionRevoked: a well-signed, unexpired session token whose login is no longer
	// allowed: the membership was removed or disabled, the IdP it came from was deleted, or
	// the account's enforcement no longer permits its login method
	// (store.ErrUnauthenticated).
	CodeSessionRevoked = "session_revoked"
)

// The codes of local sign-in (Dashboard).
const (
	// CodeBadCredentials: an email and password were refused: no such user, no password, a
	// wrong one, or no member of the account, all alike (store.ErrUnauthenticated).
	CodeBadCredentials = "bad_credentials"
	// CodeBadSecondFactor: a TOTP or recovery code was refused: wrong, already used, or out
	// of its time window (store.ErrUnauthenticated). The challenge stays usable for a few
	// more tries.
	CodeBadSecondFactor = "bad_second_factor"
	// CodeChallengeInvalid: a sign-in challenge is unknown, expired, used up or of another
	// step (store.ErrUnauthenticated): sign in again.
	CodeChallengeInvalid = "challenge_invalid"
	// CodeThrottled: too many attempts for this user or from this address
	// (store.ErrLimitExceeded); the *store.Error's RetryAfter says when to try again.
	CodeThrottled = "throttled"
	// CodeSecondFactorRequired: the account requires a second factor, so the member's cannot
	// be removed (store.ErrConflict).
	CodeSecondFactorRequired = "second_factor_required"
	// CodeResetInvalid: a password reset token is unknown, expired or used
	// (store.ErrUnauthenticated).
	CodeResetInvalid = "reset_token_invalid"
	// CodePasswordTooShort: a new password is shorter than the policy allows (store.ErrInvalid;
	// Limit is the minimum, in characters).
	CodePasswordTooShort = "password_too_short"
	// CodePasswordCommon: a new password is one of the most common ones, or the user's email
	// (store.ErrInvalid).
	CodePasswordCommon = "password_common"
	// CodeNoPassword: the user has no password to change (an SSO-only user; a password reset
	// sets one) (store.ErrConflict).
	CodeNoPassword = "no_password"
	// CodePasswordSet: the user already has a password (SetInitialPassword)
	// (store.ErrConflict).
	CodePasswordSet = "password_already_set"
	// CodeTOTPUnavailable: TOTP needs a secret key the Dashboard was not given
	// (WithSecretKey) (store.ErrFeatureUnavailable).
	CodeTOTPUnavailable = "totp_unavailable"
	// CodeTOTPEnabled: the user already has a confirmed TOTP second factor
	// (store.ErrConflict).
	CodeTOTPEnabled = "totp_already_enabled"
	// CodeTOTPNotEnabled: the user has no confirmed TOTP second factor, or no enrolment in
	// progress to confirm (store.ErrConflict).
	CodeTOTPNotEnabled = "totp_not_enabled"
	// CodeCrossOrigin: a state-changing request came from another origin
	// (http.CrossOriginProtection refused it) (store.ErrDenied).
	CodeCrossOrigin = "cross_origin"
)

// A refused login (store.ErrDenied) has the code of its LoginReason: the reason's value,
// such as "not_invited" (string(ReasonNotInvited)).

// respErr is the error of a SAML response that failed a check: reason is a fixed
// description of the failed check that never contains values from the message.
func respErr(code, reason string) *store.Error {
	return &store.Error{Kind: store.ErrUnauthenticated, Code: code, Msg: reason}
}

// respErrCause is respErr with an underlying cause (a parser's, goxmldsig's or the store's
// error), which may quote parts of the message.
func respErrCause(code, reason string, cause error) *store.Error {
	return &store.Error{Kind: store.ErrUnauthenticated, Code: code, Msg: reason, Err: cause}
}

// metadataErr is the error of rejected IdP metadata: part names the rejected part of the
// document (such as "KeyDescriptor"), reason says why; cause, if any, is the underlying error.
func metadataErr(part, reason string, cause error) *store.Error {
	return &store.Error{Kind: store.ErrInvalid, Code: CodeMetadataInvalid, Field: metadataField + part, Msg: reason, Err: cause}
}

// metadataField prefixes the Field of a metadata error: the part of metadata_xml at fault.
const metadataField = "metadata_xml."

// configErr is the error of an unusable configuration value, named by field.
func configErr(field, reason string, cause error) *store.Error {
	return &store.Error{Kind: store.ErrInvalid, Code: CodeConfigInvalid, Field: field, Msg: reason, Err: cause}
}

// required is the error of a missing constructor argument.
func required(field string) error {
	return store.Invalid(field, store.CodeRequired, 0, "required")
}

// loginDenied is the error of a refused login: store.ErrDenied with the reason as its code.
func loginDenied(r LoginReason) error {
	return &store.Error{Kind: store.ErrDenied, Code: string(r), Msg: "login denied", Err: r}
}

func invalidSession(reason string, err error) error {
	return &store.Error{Kind: store.ErrUnauthenticated, Code: CodeSessionInvalid, Msg: "invalid session: " + reason, Err: err}
}

func revokedSession(reason string, err error) error {
	return &store.Error{Kind: store.ErrUnauthenticated, Code: CodeSessionRevoked, Msg: "session no longer valid: " + reason, Err: err}
}

// keyPolicyErr is the error of a certificate key outside the key policy.
func keyPolicyErr(field, format string, args ...any) error {
	return &store.Error{Kind: store.ErrInvalid, Code: CodeKeyPolicy, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func badCredentials() error {
	return store.NewError(store.ErrUnauthenticated, CodeBadCredentials, "email or password not accepted")
}

func badSecondFactor() error {
	return store.NewError(store.ErrUnauthenticated, CodeBadSecondFactor, "code not accepted")
}

func invalidChallenge() error {
	return store.NewError(store.ErrUnauthenticated, CodeChallengeInvalid, "sign-in challenge not valid: sign in again")
}

func throttled(retryAfter time.Duration) error {
	return &store.Error{Kind: store.ErrLimitExceeded, Code: CodeThrottled, RetryAfter: retryAfter,
		Msg: "too many attempts: try again later"}
}

func totpUnavailable() error {
	return &store.Error{Kind: store.ErrFeatureUnavailable, Code: CodeTOTPUnavailable, Field: "totp",
		Msg: "TOTP is not available: the dashboard has no secret key"}
}
