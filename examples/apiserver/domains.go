package main

import (
	"net/http"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// domainRoutes serve the account's email domains (iamkit's, not ngrok's API): an identity
// provider may be trusted only for domains the account has verified by DNS.
func (s *server) domainRoutes() {
	s.handle("POST /domains", "domains.create", rbac.SSOManage, s.createDomain)
	s.handle("GET /domains", "domains.list", rbac.SSORead, s.listDomains)
	s.handle("GET /domains/{id}", "domains.get", rbac.SSORead, s.getDomain)
	s.handle("PATCH /domains/{id}", "domains.update", rbac.SSOManage, s.updateDomain)
	s.handle("POST /domains/{id}/verify", "domains.verify", rbac.SSOManage, s.verifyDomain)
	s.handle("DELETE /domains/{id}", "domains.delete", rbac.SSOManage, s.deleteDomain)
}

// domainJSON is a domain (sso.DomainObject, its event object) with its URI.
type domainJSON struct {
	sso.DomainObject
	URI string `json:"uri"`
}

func domainOut(c *call, d store.Domain) domainJSON {
	return domainJSON{DomainObject: sso.DomainObjectOf(d), URI: c.base + "/domains/" + d.ID}
}

func (s *server) createDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Domain string `json:"domain"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	d, err := s.IAM.SSO().ClaimDomain(r.Context(), c.principal, in.Domain)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, domainOut(c, d))
}

func (s *server) listDomains(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	ds, err := s.IAM.SSO().Domains(r.Context(), c.principal, plusOne(p))
	if err != nil {
		return err
	}
	return list(w, r, c, p, ds, func(d store.Domain) string { return d.ID }, func(page []store.Domain, next *string) any {
		out := make([]domainJSON, 0, len(page))
		for _, d := range page {
			out = append(out, domainOut(c, d))
		}
		return map[string]any{"domains": out, "uri": c.base + r.URL.Path, "next_page_uri": next}
	})
}

func (s *server) getDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	d, err := s.IAM.SSO().Domain(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, domainOut(c, d))
}

func (s *server) updateDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		RequireSSO *bool `json:"require_sso"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.RequireSSO == nil {
		return newError(http.StatusBadRequest, codeNoChanges, "The update failed because no values were provided. Specify at least one value.")
	}
	d, err := s.IAM.SSO().RequireDomainSSO(r.Context(), c.principal, pathID(r), *in.RequireSSO)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, domainOut(c, d))
}

// verifyDomain looks the domain's TXT record up now: 200 with the domain verified, or an
// error (409 while the record is not found, 503 when DNS fails).
func (s *server) verifyDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	d, err := s.IAM.SSO().VerifyDomain(r.Context(), c.principal, pathID(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, domainOut(c, d))
}

func (s *server) deleteDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := requireNoBody(r); err != nil {
		return err
	}
	if err := s.IAM.SSO().DeleteDomain(r.Context(), c.principal, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
