package sso

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// Domain verification: an account claims an email domain, publishes a DNS TXT record with
// the token the claim was given, and asks for verification.
const (
	// DomainRecordLabel is the label under the domain where the TXT record may be published:
	// "_iamkit.example.com". The domain's own name (the apex) is accepted too.
	DomainRecordLabel = "_iamkit"
	// DomainRecordPrefix starts the TXT record's value: "iamkit-domain-verification=<token>".
	DomainRecordPrefix = "iamkit-domain-verification="
	// MaxDomainsPerAccount is the most domains one account may claim.
	MaxDomainsPerAccount = 50
)

// The codes of domain verification.
const (
	// CodeDomainNotVerified: an identity provider was to be trusted for an email domain its
	// account has not verified (store.ErrInvalid, Field "domains").
	CodeDomainNotVerified = "domain_not_verified"
	// CodeDomainTaken: another account has verified the domain (store.ErrConflict). A domain
	// belongs to one account at a time.
	CodeDomainTaken = "domain_taken"
	// CodeDomainUnproven: no TXT record with the domain's token was found at either name
	// (store.ErrConflict): publish it, wait for DNS, and try again.
	CodeDomainUnproven = "domain_unproven"
	// CodeDomainInUse: an identity provider of the account is still trusted for the domain,
	// so it cannot be deleted (store.ErrConflict).
	CodeDomainInUse = "domain_in_use"
	// CodeDNSUnavailable: the DNS lookup failed for another reason than the record being
	// absent (a timeout, a server failure) (store.ErrUnavailable).
	CodeDNSUnavailable = "dns_unavailable"
)

// Resolver looks up DNS TXT records; *net.Resolver is one. WithResolver sets it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// WithResolver sets the resolver domain verification asks (default net.DefaultResolver).
func WithResolver(r Resolver) Option { return func(o *config) { o.resolver = r } }

// DomainRecord is the DNS TXT record that proves control of a domain: publish Value as a TXT
// record at Name (or at the domain itself).
type DomainRecord struct {
	Name  string // "_iamkit.example.com"
	Value string // "iamkit-domain-verification=<token>"
}

// DomainRecordOf returns the TXT record that verifies d.
func DomainRecordOf(d store.Domain) DomainRecord {
	return DomainRecord{Name: DomainRecordLabel + "." + d.Name, Value: DomainRecordPrefix + d.Token}
}

// ClaimDomain claims an email domain for by's account and returns it, unverified, with the
// token its TXT record must carry (DomainRecordOf). by needs rbac.SSOManage and the plan
// identity.FeatureSSO. The name follows identity.NormalizeDomain (ASCII, IDNs in punycode,
// at least two labels). A domain another account has verified is refused (CodeDomainTaken);
// one this account already claims is a conflict (store.CodeAlreadyExists). It records a
// domain_created event.
func (s *Service) ClaimDomain(ctx context.Context, by identity.Principal, domain string) (store.Domain, error) {
	if err := by.Validate(); err != nil {
		return store.Domain{}, err
	}
	name, err := checkDomainName("domain", domain)
	if err != nil {
		return store.Domain{}, err
	}
	tok, err := domainToken(s.rand)
	if err != nil {
		return store.Domain{}, err
	}
	d := store.Domain{AccountID: by.AccountID, Name: name, Token: tok}
	if d.ID, err = s.ids.NewIn(id.Domain, by.AccountID); err != nil {
		return store.Domain{}, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, rbac.SSOManage); err != nil {
			return err
		}
		if err := verifiedElsewhere(ctx, tx, by.AccountID, name); err != nil {
			return err
		}
		ds, err := tx.Domains(ctx, by.AccountID, store.Page{Limit: MaxDomainsPerAccount})
		if err != nil {
			return err
		}
		if len(ds) >= MaxDomainsPerAccount {
			return store.Invalid("domains", store.CodeOutOfRange, MaxDomainsPerAccount, "an account may claim at most %d", MaxDomainsPerAccount)
		}
		d.CreatedAt = s.now()
		if err := tx.PutDomain(ctx, d); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventDomainCreated, by.Audit(), DomainObjectOf(d))
	})
	if err != nil {
		return store.Domain{}, err
	}
	return d, nil
}

// VerifyDomain looks up the TXT records of a domain by's account claims, at
// "_iamkit.<domain>" and then at the domain itself, and marks it verified when one of them
// is DomainRecordOf's value. by needs rbac.SSOManage. A domain already verified is returned
// as it is, without a lookup. No record: CodeDomainUnproven; a failed lookup:
// CodeDNSUnavailable; another account verified it first: CodeDomainTaken. It records a
// domain_verified event.
func (s *Service) VerifyDomain(ctx context.Context, by identity.Principal, domainID string) (store.Domain, error) {
	d, err := s.Domain(ctx, by, domainID)
	if err != nil || d.Verified() {
		return d, err
	}
	if err := s.lookupToken(ctx, d); err != nil {
		return store.Domain{}, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, rbac.SSOManage); err != nil {
			return err
		}
		cur, err := domainIn(ctx, tx, by.AccountID, domainID)
		if err != nil {
			return err
		}
		if cur.Verified() {
			d = cur
			return nil
		}
		if cur.Token != d.Token {
			return store.NewError(store.ErrConflict, CodeDomainUnproven, "the domain's token changed during verification")
		}
		if err := verifiedElsewhere(ctx, tx, by.AccountID, cur.Name); err != nil {
			return err
		}
		cur.VerifiedAt = s.now()
		if err := tx.PutDomain(ctx, cur); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return domainTaken()
			}
			return err
		}
		d = cur
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventDomainVerified, by.Audit(), DomainObjectOf(cur))
	})
	if err != nil {
		return store.Domain{}, err
	}
	return d, nil
}

// lookupToken finds d's token in the TXT records at _iamkit.<domain>, then at the domain.
func (s *Service) lookupToken(ctx context.Context, d store.Domain) error {
	want := DomainRecordOf(d)
	var failed error
	for _, name := range []string{want.Name + ".", d.Name + "."} {
		txts, err := s.resolver.LookupTXT(ctx, name)
		var de *net.DNSError
		switch {
		case err == nil:
		case errors.As(err, &de) && de.IsNotFound:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			failed = err
			continue
		}
		if slices.Contains(txts, want.Value) {
			return nil
		}
	}
	if failed != nil {
		return &store.Error{Kind: store.ErrUnavailable, Code: CodeDNSUnavailable, Msg: "looking up the domain's TXT records failed", Err: failed}
	}
	return store.NewError(store.ErrConflict, CodeDomainUnproven, "no TXT record %q at %s or at the domain", want.Value, want.Name)
}

// Domain returns a domain of by's account; by needs rbac.SSORead and the plan
// identity.FeatureSSO.
func (s *Service) Domain(ctx context.Context, by identity.Principal, domainID string) (store.Domain, error) {
	if err := id.CheckArg("domain_id", domainID, id.Domain); err != nil {
		return store.Domain{}, err
	}
	return readSSO(ctx, s, by, func(r store.Reader) (store.Domain, error) {
		return domainIn(ctx, r, by.AccountID, domainID)
	})
}

// Domains returns a page of the domains of by's account, newest first, as
// IdentityProviders does; by needs rbac.SSORead and the plan identity.FeatureSSO.
func (s *Service) Domains(ctx context.Context, by identity.Principal, p store.Page) ([]store.Domain, error) {
	if err := id.CheckPage(p, id.Domain); err != nil {
		return nil, err
	}
	return readSSO(ctx, s, by, func(r store.Reader) ([]store.Domain, error) {
		return r.Domains(ctx, by.AccountID, p)
	})
}

// RequireDomainSSO sets whether members of by's account whose email is in a verified domain
// must sign in through SSO (store.Domain.RequireSSO): then Dashboard.SignIn refuses their
// password with ReasonDomainSSO, as long as an identity provider of the account is trusted
// for the domain. by needs rbac.SSOManage. An unverified domain cannot require SSO
// (CodeDomainNotVerified). A change records a domain_updated event.
func (s *Service) RequireDomainSSO(ctx context.Context, by identity.Principal, domainID string, require bool) (store.Domain, error) {
	if err := by.Validate(); err != nil {
		return store.Domain{}, err
	}
	if err := id.CheckArg("domain_id", domainID, id.Domain); err != nil {
		return store.Domain{}, err
	}
	var d store.Domain
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, rbac.SSOManage); err != nil {
			return err
		}
		var err error
		if d, err = domainIn(ctx, tx, by.AccountID, domainID); err != nil {
			return err
		}
		if !d.Verified() {
			return store.Invalid("require_sso", CodeDomainNotVerified, 0, "verify %s first", d.Name)
		}
		if d.RequireSSO == require {
			return nil
		}
		d.RequireSSO = require
		if err := tx.PutDomain(ctx, d); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventDomainUpdated, by.Audit(), DomainObjectOf(d))
	})
	if err != nil {
		return store.Domain{}, err
	}
	return d, nil
}

// DeleteDomain gives up a domain of by's account, verified or not; by needs rbac.SSOManage.
// A domain an identity provider of the account is trusted for cannot be deleted
// (CodeDomainInUse): remove it from the IdP first. It records a domain_deleted event.
func (s *Service) DeleteDomain(ctx context.Context, by identity.Principal, domainID string) error {
	if err := by.Validate(); err != nil {
		return err
	}
	if err := id.CheckArg("domain_id", domainID, id.Domain); err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.permit(ctx, tx, by, rbac.SSOManage); err != nil {
			return err
		}
		d, err := domainIn(ctx, tx, by.AccountID, domainID)
		if err != nil {
			return err
		}
		ps, err := tx.IdentityProviders(ctx, by.AccountID, store.Page{Limit: MaxIdentityProviders})
		if err != nil {
			return err
		}
		for _, p := range ps {
			if slices.Contains(p.Domains, d.Name) {
				return store.NewError(store.ErrConflict, CodeDomainInUse, "identity provider %s is trusted for %s", p.ID, d.Name)
			}
		}
		if err := tx.DeleteDomain(ctx, domainID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, by.AccountID, identity.EventDomainDeleted, by.Audit(), DomainObjectOf(d))
	})
}

// DomainRoute is where SSO sends the holder of an email address in a verified domain: the
// account that verified it and its identity providers trusted for it.
type DomainRoute struct {
	AccountID string
	Domain    string
	Choices   []IdPChoice
}

// RouteEmail finds the account that has verified the domain of email and the identity
// providers of that account trusted for it, for a "sign in with SSO" page that asks only
// for an email. It fails with an error matching store.ErrNotFound when no account has
// verified the domain, the account's plan has no SSO, or none of its IdPs is trusted for
// it; with store.ErrInvalid for an address identity.NormalizeEmail refuses. It checks no
// permission: nobody is signed in yet. The route is public: it says which account verified
// a domain, which its DNS records say too.
func (s *Service) RouteEmail(ctx context.Context, email string) (DomainRoute, error) {
	addr, err := identity.NormalizeEmail(email)
	if err != nil {
		return DomainRoute{}, err
	}
	domain := domainOf(addr)
	var rt DomainRoute
	err = s.st.View(ctx, func(r store.Reader) error {
		d, err := r.VerifiedDomain(ctx, domain)
		if err != nil {
			return fmt.Errorf("sso: domain %s: %w", domain, err)
		}
		acct, err := r.Account(ctx, d.AccountID)
		if err != nil {
			return fmt.Errorf("sso: account %s: %w", d.AccountID, err)
		}
		if s.requireSSO(acct) != nil {
			return fmt.Errorf("sso: account %s has no SSO: %w", acct.ID, store.ErrNotFound)
		}
		rt = DomainRoute{AccountID: acct.ID, Domain: domain}
		rt.Choices, err = domainChoices(ctx, r, acct.ID, domain)
		return err
	})
	if err == nil && len(rt.Choices) == 0 {
		err = fmt.Errorf("sso: no identity provider is trusted for %s: %w", domain, store.ErrNotFound)
	}
	if err != nil {
		return DomainRoute{}, err
	}
	return rt, nil
}

// domainChoices lists the IdPs of an account trusted for domain, newest first.
func domainChoices(ctx context.Context, r store.Reader, accountID, domain string) ([]IdPChoice, error) {
	ps, err := r.IdentityProviders(ctx, accountID, store.Page{Limit: MaxIdentityProviders})
	if err != nil {
		return nil, err
	}
	var out []IdPChoice
	for _, p := range ps {
		if slices.Contains(p.Domains, domain) {
			out = append(out, choiceOf(p))
		}
	}
	return out, nil
}

// domainForcesSSO reports whether accountID has verified the domain of email, requires SSO
// for it and has an IdP trusted for it: then its members of that domain sign in through SSO
// only.
func domainForcesSSO(ctx context.Context, r store.Reader, accountID, email string) (bool, error) {
	domain := domainOf(email)
	d, err := r.VerifiedDomain(ctx, domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case d.AccountID != accountID || !d.RequireSSO:
		return false, nil
	}
	cs, err := domainChoices(ctx, r, accountID, domain)
	return len(cs) > 0, err
}

// verifiedBy reports whether accountID has verified domain.
func verifiedBy(ctx context.Context, r store.Reader, accountID, domain string) (bool, error) {
	d, err := r.VerifiedDomain(ctx, domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return d.AccountID == accountID, nil
}

// checkVerified refuses IdP domains that accountID has not verified.
func checkVerified(ctx context.Context, r store.Reader, accountID string, domains []string) error {
	for _, d := range domains {
		ok, err := verifiedBy(ctx, r, accountID, d)
		if err != nil {
			return err
		}
		if !ok {
			return store.Invalid("domains", CodeDomainNotVerified, 0, "the account has not verified %s: claim it and publish its DNS TXT record first", d)
		}
	}
	return nil
}

// verifiedElsewhere refuses a name another account has verified.
func verifiedElsewhere(ctx context.Context, r store.Reader, accountID, name string) error {
	d, err := r.VerifiedDomain(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case d.AccountID != accountID:
		return domainTaken()
	}
	return nil
}

func domainTaken() error {
	return store.NewError(store.ErrConflict, CodeDomainTaken, "another account has verified this domain")
}

func domainIn(ctx context.Context, r store.Reader, accountID, domainID string) (store.Domain, error) {
	d, err := r.Domain(ctx, domainID)
	if err == nil && d.AccountID != accountID {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Domain{}, fmt.Errorf("sso: domain %s: %w", domainID, err)
	}
	return d, nil
}

// checkDomainName normalises one domain name as normalizeDomains does.
func checkDomainName(field, d string) (string, error) {
	n, err := identity.NormalizeDomain(strings.TrimSpace(d))
	if err != nil || !strings.Contains(n, ".") {
		return "", store.Invalid(field, store.CodeInvalidValue, 0, "must be an ASCII domain name such as example.com, IDNs in punycode (at most 253 bytes, no wildcard)")
	}
	return n, nil
}

// domainOf returns the domain of a canonical email address.
func domainOf(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

// domainToken returns a new verification token: 128 random bits in hex.
func domainToken(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("sso: reading randomness: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// DomainObject is a domain as audit events record it and an API serves it.
type DomainObject struct {
	ID         string `json:"id"`
	Domain     string `json:"domain"`
	Verified   bool   `json:"verified"`
	RequireSSO bool   `json:"require_sso"`
	RecordName string `json:"txt_record_name"`
	Record     string `json:"txt_record_value"`
	VerifiedAt string `json:"verified_at,omitempty"`
	CreatedAt  string `json:"created_at"`
}

// Resource returns identity.ResourceDomain.
func (DomainObject) Resource() identity.Resource { return identity.ResourceDomain }

// DomainObjectOf returns the object of a domain.
func DomainObjectOf(d store.Domain) DomainObject {
	rec := DomainRecordOf(d)
	o := DomainObject{ID: d.ID, Domain: d.Name, Verified: d.Verified(), RequireSSO: d.RequireSSO, RecordName: rec.Name, Record: rec.Value,
		CreatedAt: identity.Timestamp(d.CreatedAt)}
	if d.Verified() {
		o.VerifiedAt = identity.Timestamp(d.VerifiedAt)
	}
	return o
}
