package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// The resources as ngrok's API v2 writes them: snake_case, RFC 3339 UTC times with a Z,
// "uri" on every resource and list, "token" present but null outside a create response,
// "acl" always an array, description and metadata left out when empty.
//
// Each resource is its public object (defined by the package that owns it, and what audit
// events record) plus its "uri" and what is computed when it is served: an event's object
// and a GET of the resource cannot drift apart.

// timestamp formats t as ngrok does: RFC 3339, UTC, whole seconds.
func timestamp(t time.Time) string { return identity.Timestamp(t) }

type botUserJSON struct {
	botuser.BotUserObject
	URI string `json:"uri"`
}

// botUserOut renders a bot user as the collection v serves it.
func botUserOut(base string, v botView, b store.BotUser) botUserJSON {
	return botUserJSON{BotUserObject: botuser.BotUserObjectOf(b), URI: base + v.path + "/" + b.ID}
}

// tokenCredentialJSON is ngrok's Credential (/credentials) and APIKey (/api_keys): "token" is
// always present, null except in the create response; API keys have no "acl".
type tokenCredentialJSON struct {
	credential.TokenCredentialObject
	URI string `json:"uri"`
}

// sshCredentialJSON is ngrok's SSHCredential (/ssh_credentials).
type sshCredentialJSON struct {
	credential.SSHCredentialObject
	URI string `json:"uri"`
}

// credentialOut renders a credential of kind; token is the secret of a create response,
// "" otherwise.
func credentialOut(base string, kind store.CredentialKind, c credential.Credential, token string) any {
	uri := base + kindInfoOf(kind).path + "/" + c.ID
	c.Kind = kind
	if kind == store.SSHCredential {
		return sshCredentialJSON{SSHCredentialObject: credential.SSHCredentialObjectOf(c), URI: uri}
	}
	out := tokenCredentialJSON{TokenCredentialObject: credential.TokenCredentialObjectOf(c), URI: uri}
	if token != "" {
		out.Token = &token
	}
	return out
}

type memberJSON struct {
	identity.MemberObject
	URI string `json:"uri"`
}

func memberOut(base string, m store.Membership, u store.User) memberJSON {
	return memberJSON{MemberObject: identity.MemberObjectOf(m, u), URI: base + "/members/" + m.UserID}
}

type invitationJSON struct {
	identity.InvitationObject
	URI string `json:"uri"`
}

func invitationOut(base string, inv store.Invitation) invitationJSON {
	return invitationJSON{InvitationObject: identity.InvitationObjectOf(inv), URI: base + "/invitations/" + inv.ID}
}

type roleJSON struct {
	rbac.RoleObject
	URI string `json:"uri"`
}

func roleOut(base string, r store.Role) roleJSON {
	return roleJSON{RoleObject: rbac.RoleObjectOf(r), URI: base + "/roles/" + r.ID}
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
	return eventJSON{
		ID: e.ID, AccountID: e.AccountID, EventType: string(e.Type), CreatedAt: timestamp(e.CreatedAt),
		Principal: p, Object: objectWithURI(base, identity.ResourceOf(e.Type), e.Object),
	}
}

// objectWithURI is an event's object as the API serves it: the resource with its "uri",
// which the library cannot know. An object that is not a JSON object, or that has a "uri"
// already, is served as stored; an empty one as null.
func objectWithURI(base string, r identity.Resource, obj json.RawMessage) json.RawMessage {
	if len(obj) == 0 {
		return json.RawMessage("null")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil || fields == nil {
		return obj
	}
	var id string
	if raw, ok := fields["id"]; ok {
		_ = json.Unmarshal(raw, &id) // a non-string id leaves id empty
	}
	path := resourcePath(r, id)
	if _, has := fields["uri"]; has || path == "" {
		return obj
	}
	uri, err := json.Marshal(base + path)
	if err != nil {
		return obj
	}
	fields["uri"] = uri
	out, err := json.Marshal(fields)
	if err != nil {
		return obj
	}
	return out
}

// resourcePath is where the API serves the resource an event is about, or "" if it does not
// serve it.
func resourcePath(r identity.Resource, id string) string {
	switch r {
	case identity.ResourceAccount:
		return "/account"
	case identity.ResourceSSOSettings:
		return "/sso_settings"
	}
	if id == "" {
		return ""
	}
	switch r {
	case identity.ResourceMember:
		return "/members/" + id
	case identity.ResourceInvitation:
		return "/invitations/" + id
	case identity.ResourceRole:
		return "/roles/" + id
	case identity.ResourceBotUser:
		return "/bot_users/" + id
	case identity.ResourceTunnelCredential:
		return kindInfoOf(store.Authtoken).path + "/" + id
	case identity.ResourceAPIKey:
		return kindInfoOf(store.APIKey).path + "/" + id
	case identity.ResourceSSHPublicKey:
		return kindInfoOf(store.SSHCredential).path + "/" + id
	case identity.ResourceAccessToken:
		return kindInfoOf(store.AccessToken).path + "/" + id
	case identity.ResourceIdentityProvider:
		return "/identity_providers/" + id
	case identity.ResourceEventDestination:
		return "/event_destinations/" + id
	case identity.ResourceEventSubscription:
		return "/event_subscriptions/" + id
	case identity.ResourceDomain:
		return "/domains/" + id
	case identity.ResourceIPPolicy:
		return "/ip_policies/" + id
	case identity.ResourceIPPolicyRule:
		return "/ip_policy_rules/" + id
	case identity.ResourceIPRestriction:
		return "/ip_restrictions/" + id
	}
	return ""
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
	for _, k := range []store.CredentialKind{store.SSHCredential, store.Authtoken, store.APIKey, store.AccessToken} {
		if info := kindInfoOf(k); strings.HasPrefix(id, info.prefix+"_") {
			return info.path
		}
	}
	return "/credentials"
}

// accountJSON is the account with its seat usage, counted when it is served.
type accountJSON struct {
	identity.AccountObject
	URI   string    `json:"uri"`
	Seats seatsJSON `json:"seats"`
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
