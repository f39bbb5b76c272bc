package main

import (
	"net/http"
	"testing"

	"github.com/iamkit/iamkit/identity"
)

type ipRefT struct {
	ID  string `json:"id"`
	URI string `json:"uri"`
}

type ipPolicyT struct {
	ID          string `json:"id"`
	URI         string `json:"uri"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
}

type ipRuleT struct {
	ID          string `json:"id"`
	URI         string `json:"uri"`
	CreatedAt   string `json:"created_at"`
	Description string `json:"description"`
	Metadata    string `json:"metadata"`
	CIDR        string `json:"cidr"`
	Action      string `json:"action"`
	IPPolicy    ipRefT `json:"ip_policy"`
}

type ipRestrictionT struct {
	ID          string   `json:"id"`
	URI         string   `json:"uri"`
	CreatedAt   string   `json:"created_at"`
	Description string   `json:"description"`
	Metadata    string   `json:"metadata"`
	Type        string   `json:"type"`
	Enforced    bool     `json:"enforced"`
	IPPolicies  []ipRefT `json:"ip_policies"`
}

// TestIPRestrictions_Wire drives /ip_policies, /ip_policy_rules and /ip_restrictions in
// ngrok's wire format, and shows an enforced api restriction refusing the API (403,
// ERR_NGROK_220) from an address its policies leave out, until it is removed.
func TestIPRestrictions_Wire(t *testing.T) {
	e := newEnv(t)
	var pol ipPolicyT
	e.req("POST", "/ip_policies", map[string]any{"description": "office", "metadata": `{"site":"hq"}`}).want(http.StatusCreated, &pol)
	if pol.URI != e.srv.URL+"/ip_policies/"+pol.ID || pol.Description != "office" {
		t.Errorf("policy %+v", pol)
	}
	var rule ipRuleT
	e.req("POST", "/ip_policy_rules", map[string]any{"ip_policy_id": pol.ID, "cidr": "10.0.0.0/8", "description": "vpn"}).want(http.StatusCreated, &rule)
	if rule.Action != "allow" || rule.IPPolicy != (ipRefT{pol.ID, pol.URI}) || rule.CIDR != "10.0.0.0/8" {
		t.Errorf("rule %+v", rule)
	}
	e.req("POST", "/ip_policy_rules", map[string]any{"ip_policy_id": pol.ID, "cidr": "10.0.0.1/8"}).wantErrorParam(http.StatusBadRequest, "ERR_NGROK_215", "cidr")
	e.req("PATCH", "/ip_policy_rules/"+rule.ID, map[string]any{"cidr": "2001:db8::/32"}).want(http.StatusOK, &rule)
	if rule.CIDR != "2001:db8::/32" {
		t.Errorf("updated rule %+v", rule)
	}

	var x ipRestrictionT
	e.req("POST", "/ip_restrictions", map[string]any{"type": "api", "ip_policy_ids": []string{pol.ID}}).want(http.StatusCreated, &x)
	if x.Enforced || x.Type != "api" || len(x.IPPolicies) != 1 || x.IPPolicies[0] != (ipRefT{pol.ID, pol.URI}) {
		t.Errorf("restriction %+v", x)
	}
	e.req("DELETE", "/ip_policies/"+pol.ID, nil).wantError(http.StatusConflict, "ERR_NGROK_90409")

	// Warn-only: the test client (127.0.0.1) is outside, and goes on; the event says so.
	events, _ := e.req("GET", "/events", nil).want(http.StatusOK, nil).raw()["events"].([]any)
	warned := 0
	for _, raw := range events {
		ev, _ := raw.(map[string]any)
		if ev["event_type"] == string(identity.EventIPRestrictionWarned) {
			warned++
			obj, _ := ev["object"].(map[string]any)
			if obj["id"] != x.ID || obj["client_ip"] != "127.0.0.1" || obj["uri"] != x.URI {
				t.Errorf("warning %v", obj)
			}
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings, want 1", warned)
	}

	e.req("PATCH", "/ip_restrictions/"+x.ID, map[string]any{"enforced": true}).want(http.StatusOK, &x)
	e.req("GET", "/ip_policies/"+pol.ID, nil).wantError(http.StatusForbidden, "ERR_NGROK_220")

	// Locked out through the API: an embedder lifts the restriction through the library.
	admin, err := e.iam.Directory().Principal(t.Context(), e.boot.AccountID, e.boot.AdminUserID, identity.SourceSDK, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.iam.IPRestrictions().DeleteRestriction(t.Context(), admin, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.iam.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.req("GET", "/ip_restrictions/"+x.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
	e.req("DELETE", "/ip_policies/"+pol.ID, nil).want(http.StatusNoContent, nil)
	e.req("GET", "/ip_policy_rules/"+rule.ID, nil).wantError(http.StatusNotFound, "ERR_NGROK_90404")
}
