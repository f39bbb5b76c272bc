package credential

// The codes of this package's errors (store.CodeOf), besides the store's and those of the
// packages it calls (identity, rbac). Each error matches the store sentinel its comment
// names.
const (
	// CodeMalformedToken: not a well-formed iamkit token (store.ErrInvalid from ParseToken;
	// the Verifier's ReasonMalformed, store.ErrUnauthenticated).
	CodeMalformedToken = "malformed_token"
	// CodeTokenUnknownKind: no iamkit token prefix at all (store.ErrInvalid).
	CodeTokenUnknownKind = "token_unknown_kind"
	// CodeTokenChecksum: the right shape, but the checksum does not match (store.ErrInvalid).
	CodeTokenChecksum = "token_checksum"
	// CodeInvalidACL: an ACL rule, or the list, is invalid (store.ErrInvalid; Field "acl" or
	// "acl[i]", Limit for a size limit).
	CodeInvalidACL = "invalid_acl"
	// CodeSSHKeyInvalid: an SSH public key is rejected (store.ErrInvalid, Field
	// "public_key").
	CodeSSHKeyInvalid = "ssh_key_invalid"
	// CodeSSHKeyMissing: the SSH public key is missing or empty (store.ErrInvalid, Field
	// "public_key").
	CodeSSHKeyMissing = "ssh_key_missing"
	// CodeSSHKeyInUse: the SSH public key is already a credential of this account
	// (store.ErrConflict, Field "public_key").
	CodeSSHKeyInUse = "ssh_key_in_use"
	// CodeSSHKeyInUseElsewhere: the SSH public key is already a credential of another
	// account, which is not named (store.ErrConflict, Field "public_key").
	CodeSSHKeyInUseElsewhere = "ssh_key_in_use_elsewhere"
	// CodeNoChanges: an update that sets nothing (store.ErrInvalid).
	CodeNoChanges = "no_changes"
	// CodeUnknownOwner: the owner_id of a new credential is a well-formed user or bot user
	// ID, but of no member or bot user of the account (store.ErrInvalid, Field
	// "owner_id"). An ID of another kind, or malformed, is store.CodeInvalidValue.
	CodeUnknownOwner = "unknown_owner"
	// CodeOwnerInactive: the credential's owner is a deactivated bot user or a disabled
	// member (store.ErrConflict when creating a credential for it; the Verifier's
	// ReasonOwnerInactive, store.ErrUnauthenticated).
	CodeOwnerInactive = "owner_inactive"

	// CodeInvalidAllowedIP: an address allow-list, or one of its entries, is invalid
	// (store.ErrInvalid; Field "allowed_ips" with Limit, or "allowed_ips[i]").
	CodeInvalidAllowedIP = "invalid_allowed_ip"
	// CodeLifetimeExceedsPolicy: a credential's expiry is further than the account's
	// credential policy allows for its kind, or absent where the policy requires one on an
	// update (store.ErrInvalid, Field "expires_at", Limit the maximum lifetime in seconds).
	CodeLifetimeExceedsPolicy = "lifetime_exceeds_policy"
	// CodeOverlapExceedsPolicy: a rotation would keep the old credential valid longer than
	// the account's credential policy allows (store.ErrInvalid, Field "overlap_until", Limit
	// the maximum overlap in seconds).
	CodeOverlapExceedsPolicy = "overlap_exceeds_policy"
	// CodeAlreadyRotated: the credential was rotated already; rotate its successor
	// (store.ErrConflict).
	CodeAlreadyRotated = "already_rotated"

	// The codes of the leak responder's refusals of a secret-scanning report.
	// CodeScanSignature: the report's signature is missing, malformed, by an unknown key or
	// does not verify (store.ErrUnauthenticated).
	CodeScanSignature = "scan_signature_invalid"
	// CodeScanReplayed: the same signed report was received before (store.ErrUnauthenticated).
	CodeScanReplayed = "scan_replayed"
	// CodeScanMalformed: the report is not a JSON array of reported tokens, or is too large
	// (store.ErrInvalid, Field "body", Limit for a size limit).
	CodeScanMalformed = "scan_malformed"
	// CodeInvalidScanKey: a secret-scanning public key does not parse (store.ErrInvalid).
	CodeInvalidScanKey = "invalid_scan_key"

	// The codes of the Verifier's other rejections (Reason), all store.ErrUnauthenticated
	// but the last.
	CodeWrongKind           = "wrong_credential_kind" // ReasonWrongKind
	CodeUnknown             = "unknown_credential"    // ReasonUnknown
	CodeRevoked             = "credential_revoked"    // ReasonRevoked
	CodeExpired             = "credential_expired"    // ReasonExpired
	CodeIPNotAllowed        = "ip_not_allowed"        // ReasonIPNotAllowed
	CodeNotScoped           = "not_scoped"            // ReasonNotScoped
	CodeIPRestricted        = "ip_restricted"         // ReasonIPRestricted
	CodeVerifierUnavailable = "verifier_unavailable"  // ReasonUnavailable: store.ErrUnavailable
)
