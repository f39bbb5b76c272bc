package main

import (
	"net/http"
	"strings"

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
type (
	authtokenCreate struct {
		Description string   `json:"description"`
		Metadata    string   `json:"metadata"`
		ACL         []string `json:"acl"`
		OwnerID     *string  `json:"owner_id"`
	}
	apiKeyCreate struct {
		Description string  `json:"description"`
		Metadata    string  `json:"metadata"`
		OwnerID     *string `json:"owner_id"`
	}
	sshCredentialCreate struct {
		Description string   `json:"description"`
		Metadata    string   `json:"metadata"`
		ACL         []string `json:"acl"`
		PublicKey   string   `json:"public_key"`
		OwnerID     *string  `json:"owner_id"`
	}
)

// The update bodies: ngrok's CredentialUpdate, APIKeyUpdate and SSHCredentialUpdate. owner_id
// is accepted only to be refused with ngrok's "cannot be re-assigned" codes (627, 628, 629).
type (
	aclCredentialUpdate struct {
		ID          string    `json:"id"`
		Description *string   `json:"description"`
		Metadata    *string   `json:"metadata"`
		ACL         *[]string `json:"acl"`
		OwnerID     *string   `json:"owner_id"`
	}
	apiKeyUpdate struct {
		ID          string  `json:"id"`
		Description *string `json:"description"`
		Metadata    *string `json:"metadata"`
		OwnerID     *string `json:"owner_id"`
	}
)

// createRequest decodes the create body of kind k.
func createRequest(w http.ResponseWriter, r *http.Request, k kindInfo) (credential.CreateRequest, error) {
	req := credential.CreateRequest{Kind: k.kind}
	var owner *string
	switch k.kind {
	case store.APIKey:
		var in apiKeyCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, owner = in.Description, in.Metadata, in.OwnerID
	case store.SSHCredential:
		var in sshCredentialCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, req.ACL, req.PublicKey, owner = in.Description, in.Metadata, in.ACL, in.PublicKey, in.OwnerID
	default:
		var in authtokenCreate
		if err := decodeBody(w, r, &in); err != nil {
			return req, err
		}
		req.Description, req.Metadata, req.ACL, owner = in.Description, in.Metadata, in.ACL, in.OwnerID
	}
	if owner != nil && *owner != "" {
		req.OwnerID = *owner // the library checks that it is a user's or a bot user's ID
	}
	return req, nil
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
		p, err := pageParams(r)
		if err != nil {
			return err
		}
		creds, err := s.IAM.Credentials().List(r.Context(), c.principal, k.kind, plusOne(p))
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
		} else {
			var in aclCredentialUpdate
			if err := decodeBody(w, r, &in); err != nil {
				return err
			}
			bodyID, owner, req.Description, req.Metadata, req.ACL = in.ID, in.OwnerID, in.Description, in.Metadata, in.ACL
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
