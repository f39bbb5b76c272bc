package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

// kindInfo is how one credential kind appears in ngrok's API.
type kindInfo struct {
	kind    store.CredentialKind
	path    string // collection path
	listKey string // the list's element key
	op      string // operation name prefix
	prefix  string // ID prefix
}

func kindInfoOf(k store.CredentialKind) kindInfo {
	switch k {
	case store.APIKey:
		return kindInfo{k, "/api_keys", "keys", "api_keys", "ak"}
	case store.SSHCredential:
		return kindInfo{k, "/ssh_credentials", "ssh_credentials", "ssh_credentials", "sshcr"}
	case store.AccessToken:
		return kindInfo{k, "/access_tokens", "access_tokens", "access_tokens", "pat"}
	}
	return kindInfo{store.Authtoken, "/credentials", "credentials", "credentials", "cr"}
}

// credentialID returns the {id} path value if it is the ID of a credential of the
// collection's kind (ERR_NGROK_227 otherwise): the library takes the kind from the ID, so
// that /api_keys/<an authtoken's ID> would otherwise reach the authtoken. The library checks
// the rest of the ID.
func credentialID(r *http.Request, k kindInfo) (string, error) {
	id := r.PathValue("id")
	if kind, err := credential.KindOf(id); err != nil || kind != k.kind {
		return "", paramError(http.StatusBadRequest, codeBadID, "id", "The ID given for id is invalid: not the ID of one of your %s.", strings.TrimPrefix(k.path, "/"))
	}
	return id, nil
}

// The create bodies, one per kind, as ngrok's CredentialCreate, APIKeyCreate and
// SSHCredentialCreate: a field of another kind is an unknown field.
// Every kind also takes iamkit's limits (limitsCreate). An access token is always its
// creator's (no owner_id) and takes scopes.
type (
	authtokenCreate struct {
		Description string   `json:"description"`
		Metadata    string   `json:"metadata"`
		ACL         []string `json:"acl"`
		OwnerID     *string  `json:"owner_id"`
		limitsCreate
	}
	apiKeyCreate struct {
		Description string  `json:"description"`
		Metadata    string  `json:"metadata"`
		OwnerID     *string `json:"owner_id"`
		limitsCreate
	}
	sshCredentialCreate struct {
		Description string   `json:"description"`
		Metadata    string   `json:"metadata"`
		ACL         []string `json:"acl"`
		PublicKey   string   `json:"public_key"`
		OwnerID     *string  `json:"owner_id"`
		limitsCreate
	}
	accessTokenCreate struct {
		Description string   `json:"description"`
		Metadata    string   `json:"metadata"`
		Scopes      []string `json:"scopes"`
		ACL         []string `json:"acl"`
		limitsCreate
	}
)

// limitsCreate is what restricts a new credential of any kind, iamkit's extension: where it
// may be used from (allowed_ips: IPv4 and IPv6 addresses or CIDR prefixes) and when it stops
// working, either at expires_at (RFC 3339) or lifetime seconds from now, not both. Neither:
// the account's credential policy decides (its maximum for the kind, or never).
type limitsCreate struct {
	AllowedIPs []string `json:"allowed_ips"`
	ExpiresAt  optTime  `json:"expires_at"`
	Lifetime   *int64   `json:"lifetime"`
}

// apply sets l on req, the lifetime counted from now.
func (l limitsCreate) apply(req *credential.CreateRequest, now time.Time) error {
	req.AllowedIPs = l.AllowedIPs
	switch {
	case l.Lifetime != nil && !l.ExpiresAt.t.IsZero():
		return paramError(http.StatusBadRequest, codeInvalidValue, "lifetime", "Give expires_at or lifetime, not both.")
	case l.Lifetime != nil:
		if *l.Lifetime <= 0 || *l.Lifetime > maxLifetimeSeconds {
			return paramError(http.StatusBadRequest, codeInvalidValue, "lifetime",
				"The lifetime must be between 1 and %d seconds; got %d.", maxLifetimeSeconds, *l.Lifetime)
		}
		req.ExpiresAt = now.Add(time.Duration(*l.Lifetime) * time.Second).Truncate(time.Second)
	default:
		req.ExpiresAt = l.ExpiresAt.t
	}
	return nil
}

// maxLifetimeSeconds bounds a lifetime so that it cannot overflow a time.Duration (100 years).
const maxLifetimeSeconds = 100 * 365 * 24 * 3600

// limitsUpdate changes what restricts a credential: allowed_ips replaces the allow-list ([]
// lifts it), expires_at sets a new expiry (null: never). Absent fields are left alone.
type limitsUpdate struct {
	AllowedIPs *[]string `json:"allowed_ips"`
	ExpiresAt  optTime   `json:"expires_at"`
}

// apply sets l on req.
func (l limitsUpdate) apply(req *credential.UpdateRequest) {
	req.AllowedIPs = l.AllowedIPs
	if l.ExpiresAt.set {
		t := l.ExpiresAt.t
		req.ExpiresAt = &t
	}
}

// optTime is an optional RFC 3339 time in a request body: set when the field was given,
// the zero time when it was null.
type optTime struct {
	set bool
	t   time.Time
}

func (o *optTime) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.t = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		// encoding/json names the field (decodeBody reports it): expires_at, overlap_until.
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[time.Time]()}
	}
	o.t = t.UTC()
	return nil
}

// The update bodies: ngrok's CredentialUpdate, APIKeyUpdate and SSHCredentialUpdate. owner_id
// is accepted only to be refused with ngrok's "cannot be re-assigned" codes (627, 628, 629).
type (
	aclCredentialUpdate struct {
		ID          string    `json:"id"`
		Description *string   `json:"description"`
		Metadata    *string   `json:"metadata"`
		ACL         *[]string `json:"acl"`
		OwnerID     *string   `json:"owner_id"`
		limitsUpdate
	}
	apiKeyUpdate struct {
		ID          string  `json:"id"`
		Description *string `json:"description"`
		Metadata    *string `json:"metadata"`
		OwnerID     *string `json:"owner_id"`
		limitsUpdate
	}
)

// createRequest decodes the create body of kind k.
func createRequest(w http.ResponseWriter, r *http.Request, k kindInfo) (credential.CreateRequest, error) {
	req := credential.CreateRequest{Kind: k.kind}
	var (
		owner  *string
		limits limitsCreate
	)
	switch k.kind {
	case store.APIKey:
		var in apiKeyCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, owner, limits = in.Description, in.Metadata, in.OwnerID, in.limitsCreate
	case store.SSHCredential:
		var in sshCredentialCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, req.ACL, req.PublicKey, owner = in.Description, in.Metadata, in.ACL, in.PublicKey, in.OwnerID
		limits = in.limitsCreate
	case store.AccessToken:
		var in accessTokenCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, req.Scopes, req.ACL, limits = in.Description, in.Metadata, in.Scopes, in.ACL, in.limitsCreate
	default:
		var in authtokenCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, req.ACL, owner, limits = in.Description, in.Metadata, in.ACL, in.OwnerID, in.limitsCreate
	}
	if owner != nil && *owner != "" {
		req.OwnerID = *owner // the library checks that it is a user's or a bot user's ID
	}
	return req, limits.apply(&req, time.Now())
}

func (s *server) createCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		req, err := createRequest(w, r, k)
		if err != nil {
			return err
		}
		issued, err := s.IAM.Credentials().Create(r.Context(), c.principal, req)
		if err != nil {
			return err
		}
		token := ""
		if !issued.Token.IsZero() {
			token = issued.Token.Reveal() // the one time the token is handed out
		}
		return writeJSON(w, http.StatusCreated, credentialOut(c.base, k.kind, issued.Credential, token))
	}
}

func (s *server) listCredentials(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if err := requireNoBody(r); err != nil {
			return err
		}
		p, q, err := pageParamsWith(r, "unused_since")
		if err != nil {
			return err
		}
		var opts []credential.ListOption
		if q.Has("unused_since") {
			since, err := time.Parse(time.RFC3339, q.Get("unused_since"))
			if err != nil {
				return paramError(http.StatusBadRequest, codeInvalidValue, "unused_since",
					"The request parameter unused_since must be an RFC 3339 time, such as 2026-01-02T15:04:05Z.")
			}
			opts = append(opts, credential.UnusedSince(since))
		}
		creds, err := s.IAM.Credentials().List(r.Context(), c.principal, k.kind, plusOne(p), opts...)
		if err != nil {
			return err
		}
		return list(w, r, c, p, creds, func(c credential.Credential) string { return c.ID }, func(page []credential.Credential, next *string) any {
			items := make([]any, len(page))
			for i, cr := range page {
				items[i] = credentialOut(c.base, k.kind, cr, "")
			}
			return map[string]any{k.listKey: items, "uri": c.base + r.URL.Path, "next_page_uri": next}
		})
	}
}

func (s *server) getCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if err := requireNoBody(r); err != nil {
			return err
		}
		id, err := credentialID(r, k)
		if err != nil {
			return err
		}
		cr, err := s.IAM.Credentials().Get(r.Context(), c.principal, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, credentialOut(c.base, k.kind, cr, ""))
	}
}

func (s *server) updateCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		id, err := credentialID(r, k)
		if err != nil {
			return err
		}
		var (
			req    credential.UpdateRequest
			bodyID string
			owner  *string
		)
		if k.kind == store.APIKey {
			var in apiKeyUpdate
			if err := decodeBody(w, r, &in); err != nil {
				return err
			}
			bodyID, owner, req.Description, req.Metadata = in.ID, in.OwnerID, in.Description, in.Metadata
			in.limitsUpdate.apply(&req)
		} else {
			var in aclCredentialUpdate
			if err := decodeBody(w, r, &in); err != nil {
				return err
			}
			bodyID, owner, req.Description, req.Metadata, req.ACL = in.ID, in.OwnerID, in.Description, in.Metadata, in.ACL
			in.limitsUpdate.apply(&req)
		}
		if bodyID != "" && bodyID != id {
			return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
		}
		if owner != nil {
			return ownerImmutable(c.op)
		}
		cr, err := s.IAM.Credentials().Update(r.Context(), c.principal, id, req)
		if err != nil {
			return err
		}
		s.sync(r.Context()) // a narrowed ACL applies from the next verification
		return writeJSON(w, http.StatusOK, credentialOut(c.base, k.kind, cr, ""))
	}
}

func (s *server) deleteCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if err := requireNoBody(r); err != nil {
			return err
		}
		id, err := credentialID(r, k)
		if err != nil {
			return err
		}
		if err := s.IAM.Credentials().Delete(r.Context(), c.principal, id); err != nil {
			return err
		}
		s.sync(r.Context()) // a deleted API key is refused from the next request on
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// rotateBody is the body of POST /<kind>/{id}/rotate, iamkit's extension: how long the
// rotated credential stays valid beside its successor, until overlap_until (RFC 3339) or for
// overlap seconds from now, not both. Neither: no overlap, the credential stops at once.
type rotateBody struct {
	OverlapUntil optTime `json:"overlap_until"`
	Overlap      *int64  `json:"overlap"`
}

// rotateCredential issues the successor of a token credential (201, with its token, shown
// this once) and keeps the credential valid until the overlap ends; a GET of it then shows
// rotated_to and its new expires_at.
func (s *server) rotateCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		id, err := credentialID(r, k)
		if err != nil {
			return err
		}
		var in rotateBody
		if err := decodeBody(w, r, &in); err != nil {
			return err
		}
		until := in.OverlapUntil.t
		switch {
		case in.Overlap != nil && !until.IsZero():
			return paramError(http.StatusBadRequest, codeInvalidValue, "overlap", "Give overlap_until or overlap, not both.")
		case in.Overlap != nil:
			if *in.Overlap < 0 || *in.Overlap > maxLifetimeSeconds {
				return paramError(http.StatusBadRequest, codeInvalidValue, "overlap",
					"The overlap must be between 0 and %d seconds; got %d.", maxLifetimeSeconds, *in.Overlap)
			}
			until = time.Now().Add(time.Duration(*in.Overlap) * time.Second)
		}
		issued, _, err := s.IAM.Credentials().Rotate(r.Context(), c.principal, id, until)
		if err != nil {
			return err
		}
		s.sync(r.Context()) // the successor works, and the expiry applies, from the next request
		return writeJSON(w, http.StatusCreated, credentialOut(c.base, k.kind, issued.Credential, issued.Token.Reveal()))
	}
}

// revokeCredential is POST /access_tokens/{id}/revoke: the token stops working at once and is
// gone, as after a DELETE (an access_token_deleted event records it). The body is empty, or
// an empty JSON object, as clients send with a POST.
func (s *server) revokeCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		id, err := credentialID(r, k)
		if err != nil {
			return err
		}
		if err := decodeBody(w, r, &struct{}{}); err != nil {
			return err
		}
		if err := s.IAM.Credentials().Delete(r.Context(), c.principal, id); err != nil {
			return err
		}
		s.sync(r.Context())
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// selfRevokeBody is the body of POST /tokens/revoke: a token, and nothing else.
type selfRevokeBody struct {
	Token string `json:"token"`
}

// selfRevoke revokes the credential whose token the body holds, on possession of the token
// alone: no API key, no permission (credential.Service.RevokeByToken). Whoever finds a token
// where it should not be can kill it. It answers 204; a token that names no live credential
// is refused as an unknown key would be, telling nothing about other credentials.
func (s *server) selfRevoke(w http.ResponseWriter, r *http.Request) error {
	var in selfRevokeBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Token == "" {
		return paramError(http.StatusBadRequest, codeInvalidValue, "token", "The token to revoke is required.")
	}
	if _, err := s.IAM.Credentials().RevokeByToken(r.Context(), in.Token); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return paramError(http.StatusBadRequest, codeMalformedKey, "token", "The token does not look like a token of this service.")
		}
		return err
	}
	s.sync(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
