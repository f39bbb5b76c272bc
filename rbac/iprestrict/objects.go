package iprestrict

import (
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// PolicyObject is an IP policy as audit events record it and an API serves it: ngrok's
// IPPolicy without its uri.
type PolicyObject struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
}

// Resource returns identity.ResourceIPPolicy.
func (PolicyObject) Resource() identity.Resource { return identity.ResourceIPPolicy }

// PolicyObjectOf returns the object of an IP policy.
func PolicyObjectOf(p store.IPPolicy) PolicyObject {
	return PolicyObject{ID: p.ID, CreatedAt: identity.Timestamp(p.CreatedAt), Description: p.Description, Metadata: p.Metadata}
}

// Ref names another resource, as ngrok's Ref does without its uri (which an API server adds).
type Ref struct {
	ID string `json:"id"`
}

// RuleObject is an IP policy rule as audit events record it and an API serves it: ngrok's
// IPPolicyRule without its uris.
type RuleObject struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
	CIDR        string `json:"cidr"`
	IPPolicy    Ref    `json:"ip_policy"`
	Action      string `json:"action"`
}

// Resource returns identity.ResourceIPPolicyRule.
func (RuleObject) Resource() identity.Resource { return identity.ResourceIPPolicyRule }

// RuleObjectOf returns the object of an IP policy rule.
func RuleObjectOf(r store.IPPolicyRule) RuleObject {
	return RuleObject{ID: r.ID, CreatedAt: identity.Timestamp(r.CreatedAt), Description: r.Description,
		Metadata: r.Metadata, CIDR: r.CIDR, IPPolicy: Ref{ID: r.PolicyID}, Action: r.Action}
}

// RestrictionObject is an IP restriction as audit events record it and an API serves it:
// ngrok's IPRestriction without its uris.
type RestrictionObject struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
	Enforced    bool   `json:"enforced"`
	Type        string `json:"type"`
	IPPolicies  []Ref  `json:"ip_policies"`
}

// Resource returns identity.ResourceIPRestriction.
func (RestrictionObject) Resource() identity.Resource { return identity.ResourceIPRestriction }

// RestrictionObjectOf returns the object of an IP restriction.
func RestrictionObjectOf(x store.IPRestriction) RestrictionObject {
	refs := make([]Ref, len(x.PolicyIDs))
	for i, pid := range x.PolicyIDs {
		refs[i] = Ref{ID: pid}
	}
	return RestrictionObject{ID: x.ID, CreatedAt: identity.Timestamp(x.CreatedAt), Description: x.Description,
		Metadata: x.Metadata, Enforced: x.Enforced, Type: x.Type, IPPolicies: refs}
}

// WarningObject is what an ip_restriction_warned.v0 event records: the warn-only
// restriction that would have refused a request, and the address it came from. The event's
// principal is who made the request.
type WarningObject struct {
	ID       string `json:"id"` // the restriction's
	Type     string `json:"type"`
	Enforced bool   `json:"enforced"` // false: the request went ahead
	ClientIP string `json:"client_ip"`
}

// Resource returns identity.ResourceIPRestriction.
func (WarningObject) Resource() identity.Resource { return identity.ResourceIPRestriction }
