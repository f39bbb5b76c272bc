package main

import (
	"context"
	"net/http"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/rbac/iprestrict"
	"github.com/iamkit/iamkit/store"
)

// Account-wide IP restrictions in ngrok's wire format: /ip_policies, /ip_policy_rules and
// /ip_restrictions. Administrators change them (account:manage); members who see the
// account read them. Every change is synced before the answer, so that the next request
// is judged by it.

func (s *server) ipRoutes() {
	s.handle("POST /ip_policies", "ip_policies.create", rbac.AccountManage, s.createIPPolicy)
	s.handle("GET /ip_policies", "ip_policies.list", rbac.AccountRead, s.listIPPolicies)
	s.handle("GET /ip_policies/{id}", "ip_policies.get", rbac.AccountRead, s.getIPPolicy)
	s.handle("PATCH /ip_policies/{id}", "ip_policies.update", rbac.AccountManage, s.updateIPPolicy)
	s.handle("DELETE /ip_policies/{id}", "ip_policies.delete", rbac.AccountManage, s.deleteIPPolicy)

	s.handle("POST /ip_policy_rules", "ip_policy_rules.create", rbac.AccountManage, s.createIPPolicyRule)
	s.handle("GET /ip_policy_rules", "ip_policy_rules.list", rbac.AccountRead, s.listIPPolicyRules)
	s.handle("GET /ip_policy_rules/{id}", "ip_policy_rules.get", rbac.AccountRead, s.getIPPolicyRule)
	s.handle("PATCH /ip_policy_rules/{id}", "ip_policy_rules.update", rbac.AccountManage, s.updateIPPolicyRule)
	s.handle("DELETE /ip_policy_rules/{id}", "ip_policy_rules.delete", rbac.AccountManage, s.deleteIPPolicyRule)

	s.handle("POST /ip_restrictions", "ip_restrictions.create", rbac.AccountManage, s.createIPRestriction)
	s.handle("GET /ip_restrictions", "ip_restrictions.list", rbac.AccountRead, s.listIPRestrictions)
	s.handle("GET /ip_restrictions/{id}", "ip_restrictions.get", rbac.AccountRead, s.getIPRestriction)
	s.handle("PATCH /ip_restrictions/{id}", "ip_restrictions.update", rbac.AccountManage, s.updateIPRestriction)
	s.handle("DELETE /ip_restrictions/{id}", "ip_restrictions.delete", rbac.AccountManage, s.deleteIPRestriction)
}

// Wire types: the library's objects with their uris.

type ipPolicyJSON struct {
	iprestrict.PolicyObject
	URI string `json:"uri"`
}

func ipPolicyOut(base string, p store.IPPolicy) ipPolicyJSON {
	return ipPolicyJSON{PolicyObject: iprestrict.PolicyObjectOf(p), URI: base + "/ip_policies/" + p.ID}
}

type ipPolicyRuleJSON struct {
	ID          string  `json:"id"`
	URI         string  `json:"uri"`
	CreatedAt   string  `json:"created_at"`
	Description string  `json:"description"`
	Metadata    string  `json:"metadata"`
	CIDR        string  `json:"cidr"`
	IPPolicy    refJSON `json:"ip_policy"`
	Action      string  `json:"action"`
}

func ipPolicyRuleOut(base string, r store.IPPolicyRule) ipPolicyRuleJSON {
	o := iprestrict.RuleObjectOf(r)
	return ipPolicyRuleJSON{ID: o.ID, URI: base + "/ip_policy_rules/" + o.ID, CreatedAt: o.CreatedAt,
		Description: o.Description, Metadata: o.Metadata, CIDR: o.CIDR,
		IPPolicy: refJSON{ID: o.IPPolicy.ID, URI: base + "/ip_policies/" + o.IPPolicy.ID}, Action: o.Action}
}

type ipRestrictionJSON struct {
	ID          string    `json:"id"`
	URI         string    `json:"uri"`
	CreatedAt   string    `json:"created_at"`
	Description string    `json:"description"`
	Metadata    string    `json:"metadata"`
	Enforced    bool      `json:"enforced"`
	Type        string    `json:"type"`
	IPPolicies  []refJSON `json:"ip_policies"`
}

func ipRestrictionOut(base string, x store.IPRestriction) ipRestrictionJSON {
	o := iprestrict.RestrictionObjectOf(x)
	refs := make([]refJSON, len(o.IPPolicies))
	for i, p := range o.IPPolicies {
		refs[i] = refJSON{ID: p.ID, URI: base + "/ip_policies/" + p.ID}
	}
	return ipRestrictionJSON{ID: o.ID, URI: base + "/ip_restrictions/" + o.ID, CreatedAt: o.CreatedAt,
		Description: o.Description, Metadata: o.Metadata, Enforced: o.Enforced, Type: o.Type, IPPolicies: refs}
}

// Request bodies, ngrok's IPPolicyCreate/Update, IPPolicyRuleCreate/Update and
// IPRestrictionCreate/Update.

type ipPolicyBody struct {
	ID          string  `json:"id"` // updates: must match the path
	Description *string `json:"description"`
	Metadata    *string `json:"metadata"`
}

type ipPolicyRuleBody struct {
	ID          string  `json:"id"`
	Description *string `json:"description"`
	Metadata    *string `json:"metadata"`
	CIDR        *string `json:"cidr"`
	IPPolicyID  string  `json:"ip_policy_id"` // create only
	Action      *string `json:"action"`       // create only; default "allow"
}

type ipRestrictionBody struct {
	ID          string    `json:"id"`
	Description *string   `json:"description"`
	Metadata    *string   `json:"metadata"`
	Enforced    *bool     `json:"enforced"`
	Type        string    `json:"type"` // create only
	IPPolicyIDs *[]string `json:"ip_policy_ids"`
}

// checkBodyID refuses a body whose id is not the path's.
func checkBodyID(bodyID, pathID string) error {
	if bodyID != "" && bodyID != pathID {
		return newError(http.StatusBadRequest, codeInvalidValue, "The id in the body does not match the id in the path.")
	}
	return nil
}

func errNoValues() error {
	return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
}

func (s *server) createIPPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipPolicyBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	p, err := s.IAM.IPRestrictions().CreatePolicy(r.Context(), c.principal, iprestrict.PolicyParams{Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, ipPolicyOut(c.base, p))
}

func (s *server) listIPPolicies(w http.ResponseWriter, r *http.Request, c *call) error {
	return listOf(w, r, c, "ip_policies", s.IAM.IPRestrictions().Policies, func(p store.IPPolicy) string { return p.ID }, ipPolicyOut)
}

func (s *server) getIPPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	return getOne(w, r, c, s.IAM.IPRestrictions().Policy, ipPolicyOut)
}

func (s *server) updateIPPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipPolicyBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkBodyID(in.ID, pathID(r)); err != nil {
		return err
	}
	if in.Description == nil && in.Metadata == nil {
		return errNoValues()
	}
	p, err := s.IAM.IPRestrictions().UpdatePolicy(r.Context(), c.principal, pathID(r), iprestrict.PolicyParams{Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return writeJSON(w, http.StatusOK, ipPolicyOut(c.base, p))
}

func (s *server) deleteIPPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.deleteOne(w, r, c, s.IAM.IPRestrictions().DeletePolicy)
}

func (s *server) createIPPolicyRule(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipPolicyRuleBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Action == nil {
		allow := store.IPAllow
		in.Action = &allow
	}
	rule, err := s.IAM.IPRestrictions().CreateRule(r.Context(), c.principal, iprestrict.RuleParams{
		PolicyID: in.IPPolicyID, CIDR: in.CIDR, Action: in.Action, Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return writeJSON(w, http.StatusCreated, ipPolicyRuleOut(c.base, rule))
}

func (s *server) listIPPolicyRules(w http.ResponseWriter, r *http.Request, c *call) error {
	return listOf(w, r, c, "ip_policy_rules", s.IAM.IPRestrictions().Rules, func(r store.IPPolicyRule) string { return r.ID }, ipPolicyRuleOut)
}

func (s *server) getIPPolicyRule(w http.ResponseWriter, r *http.Request, c *call) error {
	return getOne(w, r, c, s.IAM.IPRestrictions().Rule, ipPolicyRuleOut)
}

// updateIPPolicyRule changes a rule's prefix, description or metadata; as in ngrok's
// IPPolicyRuleUpdate, neither its policy nor its action.
func (s *server) updateIPPolicyRule(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipPolicyRuleBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkBodyID(in.ID, pathID(r)); err != nil {
		return err
	}
	if in.IPPolicyID != "" || in.Action != nil {
		return paramError(http.StatusBadRequest, codeUnknownParam, "ip_policy_id", "A rule's policy and action cannot be changed: delete the rule and create another.")
	}
	if in.CIDR == nil && in.Description == nil && in.Metadata == nil {
		return errNoValues()
	}
	rule, err := s.IAM.IPRestrictions().UpdateRule(r.Context(), c.principal, pathID(r), iprestrict.RuleParams{
		CIDR: in.CIDR, Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return writeJSON(w, http.StatusOK, ipPolicyRuleOut(c.base, rule))
}

func (s *server) deleteIPPolicyRule(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.deleteOne(w, r, c, s.IAM.IPRestrictions().DeleteRule)
}

func (s *server) createIPRestriction(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipRestrictionBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	x, err := s.IAM.IPRestrictions().CreateRestriction(r.Context(), c.principal, iprestrict.RestrictionParams{
		Type: in.Type, PolicyIDs: in.IPPolicyIDs, Enforced: in.Enforced, Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return writeJSON(w, http.StatusCreated, ipRestrictionOut(c.base, x))
}

func (s *server) listIPRestrictions(w http.ResponseWriter, r *http.Request, c *call) error {
	return listOf(w, r, c, "ip_restrictions", s.IAM.IPRestrictions().Restrictions, func(x store.IPRestriction) string { return x.ID }, ipRestrictionOut)
}

func (s *server) getIPRestriction(w http.ResponseWriter, r *http.Request, c *call) error {
	return getOne(w, r, c, s.IAM.IPRestrictions().Restriction, ipRestrictionOut)
}

// updateIPRestriction changes a restriction's policies, enforcement, description or
// metadata; its type stays.
func (s *server) updateIPRestriction(w http.ResponseWriter, r *http.Request, c *call) error {
	var in ipRestrictionBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkBodyID(in.ID, pathID(r)); err != nil {
		return err
	}
	if in.Type != "" {
		return paramError(http.StatusBadRequest, codeUnknownParam, "type", "A restriction's type cannot be changed: delete it and create another.")
	}
	if in.IPPolicyIDs == nil && in.Enforced == nil && in.Description == nil && in.Metadata == nil {
		return errNoValues()
	}
	x, err := s.IAM.IPRestrictions().UpdateRestriction(r.Context(), c.principal, pathID(r), iprestrict.RestrictionParams{
		PolicyIDs: in.IPPolicyIDs, Enforced: in.Enforced, Description: in.Description, Metadata: in.Metadata})
	if err != nil {
		return err
	}
	s.sync(r.Context())
	return writeJSON(w, http.StatusOK, ipRestrictionOut(c.base, x))
}

func (s *server) deleteIPRestriction(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.deleteOne(w, r, c, s.IAM.IPRestrictions().DeleteRestriction)
}

// listOf serves one page of a listing under key, newest first.
func listOf[T, J any](w http.ResponseWriter, r *http.Request, c *call, key string,
	read func(ctx context.Context, by identity.Principal, p store.Page) ([]T, error), idOf func(T) string, out func(string, T) J) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	items, err := read(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, items, idOf, func(page []T, next *string) any {
		rendered := make([]J, len(page))
		for i, v := range page {
			rendered[i] = out(c.base, v)
		}
		return map[string]any{key: rendered, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

// getOne serves one record, named by the path's {id}.
func getOne[T, J any](w http.ResponseWriter, r *http.Request, c *call,
	read func(ctx context.Context, by identity.Principal, id string) (T, error), out func(string, T) J) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	v, err := read(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out(c.base, v))
}

// deleteOne deletes the record the path's {id} names, syncs, and answers 204.
func (s *server) deleteOne(w http.ResponseWriter, r *http.Request, c *call, del func(ctx context.Context, by identity.Principal, id string) error) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := del(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	s.sync(r.Context())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
