package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store"
)

// The resources as ngrok's API v2 writes them: snake_case, RFC 3339 UTC times with a Z,
// "uri" on every resource and list, "token" present but null outside a create response,
// "acl" always an array, description and metadata left out when empty.

// timestamp formats t as ngrok does: RFC 3339, UTC, whole seconds.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

type botUserJSON struct {
	ID        string   `json:"id"`
	URI       string   `json:"uri"`
	Name      string   `json:"name"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	Roles     []string `json:"roles,omitempty"` // iamkit: roles given to the bot (RBAC plans)
}

type botUserListJSON struct {
	BotUsers    []botUserJSON `json:"bot_users"`
	URI         string        `json:"uri"`
	NextPageURI *string       `json:"next_page_uri"`
}

func botUserOut(base string, b store.BotUser) botUserJSON {
	return botUserJSON{
		ID: b.ID, URI: base + "/bot_users/" + b.ID, Name: b.Name, Active: b.Active,
		CreatedAt: timestamp(b.CreatedAt), Roles: b.Roles,
	}
}

// tokenCredentialJSON is ngrok's Credential (/credentials) and APIKey (/api_keys): "token" is
// always present, null except in the create response; API keys have no "acl".
type tokenCredentialJSON struct {
	ID          string    `json:"id"`
	URI         string    `json:"uri"`
	CreatedAt   string    `json:"created_at"`
	Description string    `json:"description,omitempty"`
	Metadata    string    `json:"metadata,omitempty"`
	Token       *string   `json:"token"`
	ACL         *[]string `json:"acl,omitempty"`
	OwnerID     string    `json:"owner_id"`
}

// sshCredentialJSON is ngrok's SSHCredential (/ssh_credentials).
type sshCredentialJSON struct {
	ID          string   `json:"id"`
	URI         string   `json:"uri"`
	CreatedAt   string   `json:"created_at"`
	Description string   `json:"description,omitempty"`
	Metadata    string   `json:"metadata,omitempty"`
	PublicKey   string   `json:"public_key"`
	ACL         []string `json:"acl"`
	OwnerID     string   `json:"owner_id"`
}

// credentialOut renders a credential of kind; token is the secret of a create response,
// "" otherwise.
func credentialOut(base string, kind store.CredentialKind, c credential.Credential, token string) any {
	uri := base + kindInfoOf(kind).path + "/" + c.ID
	acl := c.ACL
	if acl == nil {
		acl = []string{}
	}
	if kind == store.SSHCredential {
		return sshCredentialJSON{
			ID: c.ID, URI: uri, CreatedAt: timestamp(c.CreatedAt), Description: c.Description,
			Metadata: c.Metadata, PublicKey: c.PublicKey, ACL: acl, OwnerID: c.OwnerID,
		}
	}
	out := tokenCredentialJSON{
		ID: c.ID, URI: uri, CreatedAt: timestamp(c.CreatedAt), Description: c.Description,
		Metadata: c.Metadata, OwnerID: c.OwnerID,
	}
	if token != "" {
		out.Token = &token
	}
	if kind == store.Authtoken {
		out.ACL = &acl
	}
	return out
}

type memberJSON struct {
	ID        string   `json:"id"`
	URI       string   `json:"uri"`
	Email     string   `json:"email"`
	Name      string   `json:"name,omitempty"`
	Roles     []string `json:"roles"`
	Status    string   `json:"status"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func memberOut(base string, m store.Membership, u store.User) memberJSON {
	roles := m.Roles
	if roles == nil {
		roles = []string{}
	}
	return memberJSON{
		ID: m.UserID, URI: base + "/members/" + m.UserID, Email: u.Email, Name: u.Name,
		Roles: roles, Status: m.Status, CreatedAt: timestamp(m.CreatedAt), UpdatedAt: timestamp(m.UpdatedAt),
	}
}

type invitationJSON struct {
	ID        string   `json:"id"`
	URI       string   `json:"uri"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
	InvitedBy string   `json:"invited_by"`
	ExpiresAt string   `json:"expires_at"`
	CreatedAt string   `json:"created_at"`
}

func invitationOut(base string, inv store.Invitation) invitationJSON {
	roles := inv.Roles
	if roles == nil {
		roles = []string{}
	}
	return invitationJSON{
		ID: inv.ID, URI: base + "/invitations/" + inv.ID, Email: inv.Email, Roles: roles,
		InvitedBy: inv.InvitedBy, ExpiresAt: timestamp(inv.ExpiresAt), CreatedAt: timestamp(inv.CreatedAt),
	}
}

type roleJSON struct {
	ID          string   `json:"id"`
	URI         string   `json:"uri"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	CreatedAt   string   `json:"created_at"`
}

func roleOut(base string, r store.Role) roleJSON {
	perms := r.Permissions
	if perms == nil {
		perms = []string{}
	}
	return roleJSON{
		ID: r.ID, URI: base + "/roles/" + r.ID, Name: r.Name, Description: r.Description,
		Permissions: perms, CreatedAt: timestamp(r.CreatedAt),
	}
}

// eventJSON is an audit event in the shape of ngrok's event log envelope.
type eventJSON struct {
	ID        string          `json:"id"`
	AccountID string          `json:"account_id"`
	EventType string          `json:"event_type"`
	CreatedAt string          `json:"event_timestamp"`
	Principal principalJSON   `json:"principal"`
	Object    json.RawMessage `json:"object"`
}

type principalJSON struct {
	ID         string   `json:"id"`
	Subject    string   `json:"subject"`
	Source     string   `json:"source"`
	Credential *refJSON `json:"credential"`
}

type refJSON struct {
	ID  string `json:"id"`
	URI string `json:"uri"`
}

func eventOut(base string, e store.Event) eventJSON {
	p := principalJSON{ID: e.Principal.ID, Subject: e.Principal.Subject, Source: sourceName(e.Principal.Source)}
	if id := e.Principal.CredentialID; id != "" {
		p.Credential = &refJSON{ID: id, URI: base + credentialPath(id) + "/" + id}
	}
	obj := e.Object
	if len(obj) == 0 {
		obj = json.RawMessage("null")
	}
	return eventJSON{
		ID: e.ID, AccountID: e.AccountID, EventType: e.Type, CreatedAt: timestamp(e.CreatedAt),
		Principal: p, Object: obj,
	}
}

// sourceName spells a principal's source as ngrok's event log does ("API", "Dashboard").
func sourceName(s string) string {
	switch s {
	case "api":
		return "API"
	case "dashboard":
		return "Dashboard"
	case "sdk":
		return "SDK"
	}
	return s
}

// credentialPath is the collection a credential ID belongs to.
func credentialPath(id string) string {
	for _, k := range []store.CredentialKind{store.SSHCredential, store.Authtoken, store.APIKey} {
		if info := kindInfoOf(k); strings.HasPrefix(id, info.prefix+"_") {
			return info.path
		}
	}
	return "/credentials"
}

type accountJSON struct {
	ID        string    `json:"id"`
	URI       string    `json:"uri"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan"`
	Seats     seatsJSON `json:"seats"`
	CreatedAt string    `json:"created_at"`
}

type seatsJSON struct {
	Limit       int `json:"limit"` // 0: no limit
	Members     int `json:"members"`
	Invitations int `json:"invitations"`
}

// errorJSON is ngrok's error body.
type errorJSON struct {
	ErrorCode  string            `json:"error_code"`
	StatusCode int               `json:"status_code"`
	Msg        string            `json:"msg"`
	Details    map[string]string `json:"details"`
}
