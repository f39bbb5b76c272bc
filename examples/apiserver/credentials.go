package main

import (
	"net/http"
	"strings"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// kindInfo is how one credential kind appears in ngrok's API.
type kindInfo struct {
	kind    store.CredentialKind
	path    string // collection path
	listKey string // the list's element key
	op      string // operation name prefix
	prefix  string // ID prefix
	checkID func(string) error
}

func kindInfoOf(k store.CredentialKind) kindInfo {
	switch k {
	case store.APIKey:
		return kindInfo{k, "/api_keys", "keys", "api_keys", "ak", func(s string) error { return identity.CheckID("id", s, "ak") }}
	case store.SSHCredential:
		return kindInfo{k, "/ssh_credentials", "ssh_credentials", "ssh_credentials", "sshcr", func(s string) error { return identity.CheckID("id", s, "sshcr") }}
	}
	return kindInfo{store.Authtoken, "/credentials", "credentials", "credentials", "cr", func(s string) error { return identity.CheckID("id", s, "cr") }}
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
		req.OwnerID = *owner
		if err := checkOwnerID(req.OwnerID); err != nil {
			return req, badID("owner_id", err)
		}
	}
	return req, nil
}

// checkOwnerID accepts a user or a bot user ID.
func checkOwnerID(s string) error {
	if strings.HasPrefix(s, "bot_") {
		return identity.CheckID("owner_id", s, "bot")
	}
	return identity.CheckID("owner_id", s, "usr")
}

func (s *server) createCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		req, err := createRequest(w, r, k)
		if err != nil {
			return err
		}
		issued, err := s.Creds.Create(r.Context(), c.principal, req)
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
		p, err := pageParams(r, k.checkID)
		if err != nil {
			return err
		}
		creds, err := s.Creds.List(r.Context(), c.principal, k.kind, plusOne(p))
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
		id, err := pathID(r, k.checkID)
		if err != nil {
			return err
		}
		cr, err := s.Creds.Get(r.Context(), c.principal, k.kind, id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, credentialOut(c.base, k.kind, cr, ""))
	}
}

func (s *server) updateCredential(k kindInfo) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		id, err := pathID(r, k.checkID)
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
		cr, err := s.Creds.Update(r.Context(), c.principal, k.kind, id, req)
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
		id, err := pathID(r, k.checkID)
		if err != nil {
			return err
		}
		if err := s.Creds.Delete(r.Context(), c.principal, k.kind, id); err != nil {
			return err
		}
		s.sync(r.Context()) // a deleted API key is refused from the next request on
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
