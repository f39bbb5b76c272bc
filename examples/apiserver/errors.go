package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/eventstream"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// apiError is an error as ngrok's API reports it: an HTTP status, a numeric code rendered
// "ERR_NGROK_<n>" and a message. Messages never repeat a token or a request body.
type apiError struct {
	Status int
	Code   int
	Msg    string
	// Param names the request parameter at fault, when there is one: a body field ("name",
	// "roles[1]"), a query parameter ("limit"), "body" or "query" as a whole. It is written
	// as details.param, so that clients (and tests) need not read the message.
	Param string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s [ERR_NGROK_%d]", e.Status, e.Msg, e.Code)
}

func newError(status, code int, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// paramError is newError for an error about one request parameter.
func paramError(status, code int, param, format string, args ...any) *apiError {
	e := newError(status, code, format, args...)
	e.Param = param
	return e
}

// Codes ngrok documents, used for the same failures.
const (
	codeMissingAuth       = 200 // no Authorization header
	codeBadAuthHeader     = 201 // the header is not "Bearer <token>"
	codeMalformedKey      = 202 // the token does not look like an API key
	codeInvalidKey        = 203 // well formed but unknown, revoked or expired
	codeAuthtokenAsAPIKey = 206 // an authtoken was sent where an API key belongs
	codeKeyIDAsToken      = 208 // an API key's ID was sent instead of its token
	codeBodyNotAllowed    = 211 // a body on a method that takes none
	codeBodyUnreadable    = 212 // the body could not be read completely (too large)
	codeBodyUnparseable   = 213 // the body is not valid JSON
	codeUnknownParam      = 214 // an unknown field or query parameter
	codeInvalidValue      = 215 // a value of the wrong type or out of its domain
	codeContentType       = 210 // a body that is not application/json
	codeContentTypeNone   = 216 // a body without a Content-Type
	codeBadVersion        = 217 // Ngrok-Version is not 2
	codeMissingVersion    = 218 // Ngrok-Version is missing
	codeIPNotAllowed      = 220 // the client's address is not allowed: by the credential's allow-list or the account's IP restrictions
	codeRateLimited       = 226 // too many requests: the account's or the credential's rate
	codeBadID             = 227 // an ID with the wrong prefix, or malformed
	codeLimit             = 233 // limit outside 1..100
	codeEventTypeInvalid  = 238 // an event subscription's source names an unknown event type

	codeInvalidACL        = 600
	codeDescriptionLen    = 604
	codeMetadataLen       = 605
	codeNoChanges         = 606
	codeSSHKeyExists      = 609
	codeSSHKeyElsewhere   = 610
	codeSSHKeyMissing     = 611
	codeSSHKeyInvalid     = 612
	codeACLNotInPlan      = 620 // authtokens
	codeSSHACLNotInPlan   = 622 // SSH credentials
	codeOwnerImmutableCr  = 627
	codeOwnerImmutableAk  = 628
	codeOwnerImmutableSSH = 629
	codeOwnerAdminOnly    = 630
	codeOwnerNotInPlan    = 633
	codeNoOwner           = 634
	codeOwnerInactive     = 636

	codeTeamManage     = 1216 // may not manage team members
	codeDeveloperWrite = 1219 // may not change developer resources
	codeAdminOnly      = 1220 // administrator privileges required

	codeBotNameEmpty   = 4109
	codeBotNameTooLong = 4110
	codeBotAdminOnly   = 4111
	codeBotNameTaken   = 4112
	codeBotNotInPlan   = 4119

	codeEmailRequired     = 4400
	codeEmailTooLong      = 4401
	codeSeatLimit         = 4402
	codeInvitationRedeem  = 4404
	codeInviteAdminOnly   = 4410
	codeInviteDenied      = 4411
	codeInviteHigherPerms = 4412

	codeLastAdminRemove   = 6602
	codeRemoveAdminOnly   = 6604
	codeChangeAdminOnly   = 6606
	codeActivateAdminOnly = 6621
	codeLastAdminDisable  = 6622

	codeInvitationNotFound = 10080
	codeIdPMetadataXML     = 10027
	codeIdPMetadataSize    = 10031
	codeLastIdP            = 4702
)

// Codes iamkit chose where ngrok documents none (a range ngrok does not use).
const (
	codeFeatureNotInPlan = 90402
	codeDenied           = 90403
	codeNotFound         = 90404
	codeMethodNotAllowed = 90405
	codeHeaderTooLarge   = 90431
	codeConflict         = 90409
	codeAlreadyMember    = 90410
	codeAlreadyInvited   = 90411
	codeNoIdP            = 90412
	codeOutOfScope       = 90413 // an access token's scopes leave the permission out
	codeScopeExceeds     = 90414 // a new access token's scope its creator does not hold
	codePolicyExceeded   = 90415 // an expiry or rotation overlap beyond the credential policy
	codeInternal         = 90500
	codeUnavailable      = 90503
	codeStreamLimit      = 90420 // an account's event destinations or subscriptions are at their limit
)

// ngrokErrors is the server's iamkit.ErrorFormat: every error in ngrok's body, with the
// request's operation ID, at the status and code toAPIError gives (ngrok answers some library
// errors with another status than iamkit.HTTPStatus's). An error answered with a 5xx is logged
// with the operation ID: library errors never hold a secret, and request bodies are not in
// them.
type ngrokErrors struct {
	perms *rbac.Permissions // the IAM's registry, which names the permission of a denial
	log   *slog.Logger
}

// write is the ErrorFormat.
func (f ngrokErrors) write(w http.ResponseWriter, r *http.Request, _ int, err error) {
	info := infoOf(r.Context())
	ae := toAPIError(info.op, f.perms, err)
	if ae.Status >= 500 {
		f.log.ErrorContext(r.Context(), "request failed", "op", info.op, "operation_id", info.opID, "err", err)
	}
	body := errorJSON{
		ErrorCode:  "ERR_NGROK_" + strconv.Itoa(ae.Code),
		StatusCode: ae.Status,
		Msg:        ae.Msg,
		Details:    map[string]string{"operation_id": info.opID},
	}
	if ae.Param != "" {
		body.Details["param"] = ae.Param
	}
	if err := writeJSON(w, ae.Status, body); err != nil {
		f.log.DebugContext(r.Context(), "writing error response", "err", err)
	}
}

// toAPIError maps an error from a handler or the library to the status and ngrok code a
// client sees. op names the operation (e.g. "members.remove"): a few library errors mean
// different ngrok codes in different operations. perms names the permissions a denial
// names (the Authorizer's registry). Library errors are told apart by kind (errors.Is) and
// code (store.CodeOf), never by their text.
func toAPIError(op string, perms *rbac.Permissions, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		return authError(err)
	case store.CodeOf(err) == credential.CodeVerifierUnavailable:
		return newError(http.StatusServiceUnavailable, codeUnavailable, "Credentials cannot be verified right now; retry the request.")
	case errors.Is(err, store.ErrLimitExceeded) && store.CodeOf(err) == iamkit.CodeRateLimited:
		return newError(http.StatusTooManyRequests, codeRateLimited, "You have exceeded the API rate limit: %s.", reasonOf(err))
	}
	se := &store.Error{} // the sentinels alone carry neither code nor field
	errors.As(err, &se)
	switch se.Code {
	case iprestrict.CodeIPRestricted:
		return newError(http.StatusForbidden, codeIPNotAllowed, "The account's IP restrictions do not allow API access from this IP address.")
	case store.CodeInUse:
		return newError(http.StatusConflict, codeConflict, "The IP policy is in use: %s", reasonOf(err))
	case botuser.CodeNameTaken:
		return newError(http.StatusConflict, codeBotNameTaken, "Bot user names must be unique within an account.")
	case credential.CodeSSHKeyInUse:
		return newError(http.StatusConflict, codeSSHKeyExists, "The public key already exists on your account.")
	case credential.CodeSSHKeyInUseElsewhere:
		return newError(http.StatusConflict, codeSSHKeyElsewhere, "The public key is already used in a different account.")
	case credential.CodeNoChanges:
		return newError(http.StatusBadRequest, codeNoChanges, "The credentials update failed because no values were provided. Specify at least one value.")
	case credential.CodeOwnerInactive:
		return newError(http.StatusBadRequest, codeOwnerInactive, "The credential owner is marked as inactive on the account.")
	case credential.CodeSSHKeyMissing:
		return newError(http.StatusBadRequest, codeSSHKeyMissing, "Public key is missing or empty.")
	case credential.CodeSSHKeyInvalid:
		return newError(http.StatusBadRequest, codeSSHKeyInvalid, "Invalid public key: %s", reasonOf(err))
	case credential.CodeInvalidACL:
		return newError(http.StatusBadRequest, codeInvalidACL, "Invalid ACL rule. An ACL rule must be '*' or start with 'bind:'. The bind value must match the format of a domain, address, or label: %s", reasonOf(err))
	case identity.CodeSeatLimit:
		return newError(http.StatusBadRequest, codeSeatLimit, "This change would exceed your current team size limit of %d.", se.Limit)
	case identity.CodeLastAdministrator:
		if op == "members.disable" {
			return newError(http.StatusBadRequest, codeLastAdminDisable, "You may not deactivate the last administrator.")
		}
		return newError(http.StatusBadRequest, codeLastAdminRemove, "You may not remove the last administrator.")
	case identity.CodeAlreadyMember:
		return newError(http.StatusConflict, codeAlreadyMember, "The user is already a member of the account.")
	case identity.CodeAlreadyInvited:
		return newError(http.StatusConflict, codeAlreadyInvited, "An unexpired invitation for this email already exists.")
	case identity.CodeInvitationExpired:
		return newError(http.StatusBadRequest, codeInvitationRedeem, "The invitation has expired and can no longer be redeemed.")
	case sso.CodeLastIdentityProvider:
		return newError(http.StatusBadRequest, codeLastIdP, "You cannot delete your last identity provider while SSO is enforced.")
	case sso.CodeNoIdentityProvider:
		return newError(http.StatusBadRequest, codeNoIdP, "SSO cannot be enforced without an identity provider.")
	case eventstream.CodeUnknownEventType:
		return paramError(http.StatusBadRequest, codeEventTypeInvalid, se.Field, "The event type is not one this server records: %s.", reasonOf(err))
	case eventstream.CodeDestinationLimit, eventstream.CodeSubscriptionLimit:
		return newError(http.StatusBadRequest, codeStreamLimit, "%s", reasonOf(err))
	case store.CodeImmutable:
		return ownerImmutable(op)
	case identity.CodeUnknownPlan:
		// No request names a plan: the account's stored plan is not in this server's
		// catalog, which is the server's fault.
		return newError(http.StatusInternalServerError, codeInternal, "Internal server error.")
	}
	switch {
	case errors.Is(err, store.ErrDenied):
		return deniedError(op, perms, se)
	case errors.Is(err, store.ErrFeatureUnavailable):
		return featureError(op, identity.Feature(se.Field))
	case errors.Is(err, store.ErrInvalid):
		return validationError(se)
	case errors.Is(err, store.ErrNotFound):
		if strings.HasPrefix(op, "invitations.") {
			return newError(http.StatusNotFound, codeInvitationNotFound, "Invitation not found.")
		}
		return newError(http.StatusNotFound, codeNotFound, "Resource not found")
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, codeConflict, "The resource conflicts with an existing one.")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return errBusy()
	}
	return newError(http.StatusInternalServerError, codeInternal, "Internal server error.")
}

// authError maps a refused credential (store.ErrUnauthenticated: the HTTP layer's codes and
// the Verifier's) to ngrok's 401 codes.
func authError(err error) *apiError {
	unauthorized := func(code int, msg string) *apiError { return newError(http.StatusUnauthorized, code, "%s", msg) }
	switch store.CodeOf(err) {
	case iamkit.CodeMissingCredentials:
		return unauthorized(codeMissingAuth, "Your request has no Authorization header. Authenticate with an API key: 'Authorization: Bearer <API key>'.")
	case iamkit.CodeBadAuthorization:
		return unauthorized(codeBadAuthHeader, "The Authorization header could not be parsed: expected 'Bearer <API key>'.")
	case iamkit.CodeCredentialIDAsToken:
		return unauthorized(codeKeyIDAsToken, "You sent an API key's ID instead of the API key itself; use the token shown when the key was created.")
	case credential.CodeMalformedToken:
		return unauthorized(codeMalformedKey, "The API key you specified does not look like a valid API key.")
	case credential.CodeWrongKind:
		return unauthorized(codeAuthtokenAsAPIKey, "The authentication you specified is actually an authtoken; the API needs an API key.")
	case credential.CodeOwnerInactive:
		return errOwnerInactive()
	case credential.CodeIPNotAllowed:
		return newError(http.StatusForbidden, codeIPNotAllowed, "The credential may not be used from this IP address: it is not in the credential's allowed_ips.")
	case credential.CodeExpired:
		return unauthorized(codeInvalidKey, "The credential you specified is properly formed, but it has expired.")
	}
	return unauthorized(codeInvalidKey, "The API key you specified is properly formed, but it is invalid: unknown, revoked or expired.")
}

func errBusy() *apiError {
	return newError(http.StatusServiceUnavailable, codeUnavailable, "The service is busy; retry the request.")
}

// reasonOf returns the text of a library validation error, for people: it names the field
// at fault (an ACL rule by its index) and never holds a secret.
func reasonOf(err error) string {
	var se *store.Error
	if !errors.As(err, &se) || se.Msg == "" {
		return "invalid"
	}
	if strings.HasPrefix(se.Field, "acl[") {
		return se.Field + ": " + se.Msg
	}
	return se.Msg
}

func ownerImmutable(op string) *apiError {
	switch {
	case strings.HasPrefix(op, "api_keys."):
		return newError(http.StatusBadRequest, codeOwnerImmutableAk, "The API key is already owned by a user and cannot be re-assigned ownership.")
	case strings.HasPrefix(op, "ssh_credentials."):
		return newError(http.StatusBadRequest, codeOwnerImmutableSSH, "The SSH public key is already owned by a user and cannot be re-assigned ownership.")
	}
	return newError(http.StatusBadRequest, codeOwnerImmutableCr, "The auth token is already owned by a user and cannot be re-assigned ownership.")
}

// validationError maps a library validation error (store.ErrInvalid) on one field. Where
// ngrok has several codes for one field (a bot user's name, an invitation's email, IdP
// metadata), the handler picks ngrok's code from the value before calling the library
// (checkBotName, checkInvitationEmail, checkMetadataSize); what remains maps by field and
// code. The message repeats the library's, which is for people.
func validationError(se *store.Error) *apiError {
	field, reason := se.Field, se.Msg
	if part, ok := strings.CutPrefix(field, "metadata_xml."); ok {
		// IdP metadata that does not parse: the library names the part at fault.
		field, reason = "metadata_xml", part+": "+reason
	}
	bad := func(code int, format string, args ...any) *apiError {
		return paramError(http.StatusBadRequest, code, field, format, args...)
	}
	switch {
	case field == "description":
		return bad(codeDescriptionLen, "A description is limited to %d bytes: %s.", store.MaxDescriptionLen, reason)
	case field == "metadata":
		return bad(codeMetadataLen, "Metadata is limited to %d bytes: %s.", store.MaxMetadataLen, reason)
	case field == "owner_id" && se.Code == credential.CodeUnknownOwner:
		return bad(codeNoOwner, "No credential owner could be determined: %s.", reason)
	case field == "metadata_xml":
		return bad(codeIdPMetadataXML, "The IdP metadata must be SAML metadata in XML format: %s.", reason)
	case se.Code == credential.CodeLifetimeExceedsPolicy:
		return bad(codePolicyExceeded, "The expiry is beyond the account's credential policy: at most %d seconds after creation.", se.Limit)
	case se.Code == credential.CodeOverlapExceedsPolicy:
		return bad(codePolicyExceeded, "The rotation overlap is beyond the account's credential policy: at most %d seconds.", se.Limit)
	case field == "limit":
		return bad(codeLimit, "The page size limit must be between 1 and %d.", maxPageLimit)
	case field == "id" || strings.HasSuffix(field, "_id"):
		return bad(codeBadID, "The ID given for %s is invalid: %s.", field, reason)
	}
	return bad(codeInvalidValue, "The value provided for the request parameter %s is invalid: %s.", field, reason)
}

// deniedError maps an authorization denial: store.ErrDenied naming the permission in Field,
// with the rbac Reason's code. The Authorizer denies only the caller for being inactive or
// gone; the Verifier refuses the same caller's key with 401 a moment later, so those
// denials (the caller was disabled or removed between authentication and authorization)
// answer as the Verifier does: one status for one condition.
func deniedError(op string, perms *rbac.Permissions, se *store.Error) *apiError {
	forbidden := func(code int, msg string) *apiError { return newError(http.StatusForbidden, code, "%s", msg) }
	perm, err := perms.Lookup(se.Field)
	if err != nil {
		// Not an rbac denial (none of the API's operations has another), or a permission
		// this server does not know: deny without detail.
		return forbidden(codeDenied, "Permission denied.")
	}
	switch {
	case se.Code == rbac.CodeOutOfScope:
		return forbidden(codeOutOfScope, "The access token's scopes do not include "+se.Field+".")
	case se.Code == rbac.CodeExceedsGrantor && strings.HasPrefix(op, "access_tokens."):
		return forbidden(codeScopeExceeds, "You may not give an access token the scope "+se.Field+": you do not hold it yourself.")
	}
	switch se.Code {
	case rbac.CodeInactive:
		return errOwnerInactive()
	case rbac.CodeNotMember, rbac.CodeNoAccount:
		return errOwnerGone()
	case rbac.CodeNotInPlan:
		return notInPlanError(perms, perm)
	}
	switch perm {
	case rbac.BotUsersWrite:
		return forbidden(codeBotAdminOnly, "You must be an admin to create, update, or delete Bots.")
	case rbac.CredentialsAssignOwner:
		return forbidden(codeOwnerAdminOnly, "You must be an admin to set credential ownership.")
	case rbac.BotUsersRead, rbac.CredentialsRead, rbac.CredentialsWrite:
		return forbidden(codeDeveloperWrite, "You do not have permission to "+verb(perm)+" developer resources.")
	case rbac.MembersInvite:
		switch se.Code {
		case rbac.CodeAdminOnly:
			return forbidden(codeInviteAdminOnly, "Only administrators may invite other administrators.")
		case rbac.CodeExceedsGrantor:
			return forbidden(codeInviteHigherPerms, "You may not invite users to the account with higher permissions than your own.")
		}
		return forbidden(codeInviteDenied, "You do not have permission to invite other team members.")
	case rbac.MembersManage:
		switch se.Code {
		case rbac.CodeAdminOnly:
			switch op {
			case "members.remove":
				return forbidden(codeRemoveAdminOnly, "Only administrators may remove administrators.")
			case "members.disable", "members.enable":
				return forbidden(codeActivateAdminOnly, "Only administrators may activate or deactivate administrators.")
			}
			return forbidden(codeChangeAdminOnly, "Only administrators may grant administrator rights or change an administrator's permissions.")
		case rbac.CodeExceedsGrantor:
			return forbidden(codeInviteHigherPerms, "You may not grant permissions higher than your own.")
		}
		return forbidden(codeTeamManage, "You do not have permission to manage team members.")
	case rbac.MembersRead:
		return forbidden(codeTeamManage, "You do not have permission to see team members.")
	}
	if rbac.AdminOnly().Has(perm) {
		return forbidden(codeAdminOnly, "Administrator privileges are required.")
	}
	return forbidden(codeDenied, "Permission denied: "+se.Field+" ("+se.Code+").")
}

// errOwnerInactive is the 401 for a key whose owner is a disabled member or a deactivated bot.
func errOwnerInactive() *apiError {
	return newError(http.StatusUnauthorized, codeOwnerInactive, "The credential owner is marked as inactive on the account.")
}

// errOwnerGone is the 401 for a well-formed key whose owner no longer exists in its account.
func errOwnerGone() *apiError {
	return newError(http.StatusUnauthorized, codeInvalidKey, "The API key you specified is properly formed, but it is invalid: its owner is gone.")
}

// notInPlanError is the denial of a permission the account's plan lacks the feature for:
// ngrok's codes for bot users (4119) and credential owners (633), 90402 for the rest (custom
// roles, SSO), whatever the caller's roles.
func notInPlanError(perms *rbac.Permissions, p rbac.Permission) *apiError {
	forbidden := func(code int, msg string) *apiError { return newError(http.StatusForbidden, code, "%s", msg) }
	switch p {
	case rbac.BotUsersRead, rbac.BotUsersWrite:
		return forbidden(codeBotNotInPlan, "This account does not have access to bot users, please upgrade to a paid plan.")
	case rbac.CredentialsAssignOwner:
		return forbidden(codeOwnerNotInPlan, "Your account is not authorized to specify credential ownership.")
	}
	return forbidden(codeFeatureNotInPlan, "The account's plan does not include "+perms.Name(p)+"; upgrade the plan.")
}

func verb(p rbac.Permission) string {
	if p == rbac.CredentialsWrite {
		return "change"
	}
	return "see"
}

// featureError maps store.ErrFeatureUnavailable, whose Field names the feature the account's
// plan lacks.
func featureError(op string, f identity.Feature) *apiError {
	forbidden := func(code int, msg string) *apiError { return newError(http.StatusForbidden, code, "%s", msg) }
	switch f {
	case identity.FeatureBotUsers:
		return forbidden(codeBotNotInPlan, "This account does not have access to bot users, please upgrade to a paid plan.")
	case identity.FeatureOwnerAssignment:
		return forbidden(codeOwnerNotInPlan, "Your account is not authorized to specify credential ownership.")
	case identity.FeatureCredentialACLs:
		if strings.HasPrefix(op, "ssh_credentials.") {
			return forbidden(codeSSHACLNotInPlan, "ACL rules on SSH credentials require a paid plan.")
		}
		return forbidden(codeACLNotInPlan, "ACL rules on authtokens require a paid plan.")
	}
	return forbidden(codeFeatureNotInPlan, fmt.Sprintf("The account's plan does not include %s.", f))
}
