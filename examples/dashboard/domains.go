package main

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
)

// domainRow is a domain as the Domains page lists it, with the TXT record to publish.
type domainRow struct {
	ID, Name              string
	RecordName, Record    string
	Verified, RequireSSO  bool
	VerifiedAt, CreatedAt time.Time
}

type domainsData struct {
	Available bool // the plan has SSO
	Domains   []domainRow
	CanManage bool
}

// domainsPage is Settings > Account > Single sign-on > Domains: the email domains the
// account claims, each with the DNS TXT record that proves it controls it, a button to
// verify it, and whether its members must sign in through single sign-on.
func (s *server) domainsPage(w http.ResponseWriter, r *http.Request, c *call) error {
	return s.renderDomains(w, r, c, http.StatusOK, nil, nil)
}

func (s *server) renderDomains(w http.ResponseWriter, r *http.Request, c *call, status int, form url.Values, errs []formError) error {
	d := domainsData{Available: true, CanManage: c.may(rbac.SSOManage)}
	ds, err := s.IAM.SSO().Domains(r.Context(), c.p, store.Page{Limit: sso.MaxDomainsPerAccount})
	if errors.Is(err, store.ErrFeatureUnavailable) {
		d.Available = false
	} else if err != nil {
		return err
	}
	for _, x := range ds {
		rec := sso.DomainRecordOf(x)
		d.Domains = append(d.Domains, domainRow{ID: x.ID, Name: x.Name, RecordName: rec.Name, Record: rec.Value,
			Verified: x.Verified(), RequireSSO: x.RequireSSO, VerifiedAt: x.VerifiedAt, CreatedAt: x.CreatedAt})
	}
	s.render(w, r, c, status, "domains", &view{Title: "Domains", Form: form, Errors: errs, Data: d})
	return nil
}

// domainFailed shows the page again with the refusal of a change, or fails the request.
func (s *server) domainFailed(w http.ResponseWriter, r *http.Request, c *call, form url.Values, field string, err error) error {
	var se *store.Error
	if !errors.As(err, &se) || errors.Is(err, store.ErrDenied) || errors.Is(err, store.ErrNotFound) {
		return err
	}
	status, _ := statusOf(err)
	return s.renderDomains(w, r, c, status, form, formErrors(err, map[string]string{"": field, "domain": "domain", "require_sso": field}))
}

func (s *server) claimDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	if f.Get("domain") == "" {
		return s.renderDomains(w, r, c, http.StatusBadRequest, f, []formError{{"domain", "Enter the email domain to verify, such as example.com."}})
	}
	d, err := s.IAM.SSO().ClaimDomain(r.Context(), c.p, f.Get("domain"))
	if err != nil {
		return s.domainFailed(w, r, c, f, "domain", err)
	}
	s.redirect(w, r, c.base()+"/settings/domains#domain-"+d.ID, "Domain added. Publish its TXT record at your DNS host, then verify it.")
	return nil
}

func (s *server) verifyDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	d, err := s.IAM.SSO().VerifyDomain(r.Context(), c.p, r.PathValue("domain"))
	if err != nil {
		return s.domainFailed(w, r, c, nil, "verify-"+r.PathValue("domain"), err)
	}
	s.redirect(w, r, c.base()+"/settings/domains#domain-"+d.ID, d.Name+" is verified: identity providers may now sign in its addresses.")
	return nil
}

func (s *server) requireDomainSSO(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	require := r.PostForm.Get("require_sso") == "on"
	d, err := s.IAM.SSO().RequireDomainSSO(r.Context(), c.p, r.PathValue("domain"), require)
	if err != nil {
		return s.domainFailed(w, r, c, nil, "require-"+r.PathValue("domain"), err)
	}
	notice := "Members with an address at " + d.Name + " may use a password again, as the account's single sign-on settings allow."
	if require {
		notice = "Members with an address at " + d.Name + " now sign in through single sign-on only."
	}
	s.redirect(w, r, c.base()+"/settings/domains#domain-"+d.ID, notice)
	return nil
}

func (s *server) deleteDomain(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := readForm(w, r); err != nil {
		return err
	}
	if err := s.IAM.SSO().DeleteDomain(r.Context(), c.p, r.PathValue("domain")); err != nil {
		return s.domainFailed(w, r, c, nil, "delete-"+r.PathValue("domain"), err)
	}
	s.redirect(w, r, c.base()+"/settings/domains", "Domain removed.")
	return nil
}
