package sso

import (
	"slices"
	"strings"

	"github.com/iamkit/iamkit/identity"
)

// AttributeMapping names, per IdP, the SAML attributes that carry a user's email, name and
// groups. Each field lists candidate attribute names, matched exactly against an
// Attribute's Name and then its FriendlyName; the first candidate present in the assertion
// wins (for Groups, the values of every candidate present are merged). A nil field uses the
// default from DefaultAttributeMapping; an empty, non-nil field disables that attribute.
//
// Email: if a mapped email attribute is present, it must hold exactly one email address and
// that is the user's email, whatever the NameID is (so an IdP may send a persistent or
// opaque NameID). Otherwise the NameID itself must be an email address. Either way the
// address must pass identity.NormalizeEmail (ASCII only, IDN domains in punycode) and is
// used in its canonical form.
type AttributeMapping struct {
	Email       []string
	DisplayName []string
	GivenName   []string
	Surname     []string
	Groups      []string
}

// DefaultAttributeMapping returns the attribute names Okta, Microsoft Entra ID (Azure AD),
// Google Workspace, OneLogin, Keycloak and LDAP-style (urn:oid) IdPs commonly send. The
// result is a fresh copy on every call.
func DefaultAttributeMapping() AttributeMapping {
	return AttributeMapping{
		Email: []string{
			"email", "Email", "mail", "emailAddress", "EmailAddress", "User.email",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
			"urn:oid:0.9.2342.19200300.100.1.3",
		},
		DisplayName: []string{
			"displayName", "name", "Name", "cn",
			"http://schemas.microsoft.com/identity/claims/displayname",
			"urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3",
		},
		GivenName: []string{
			"firstName", "givenName", "given_name", "FirstName", "User.FirstName",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
			"urn:oid:2.5.4.42",
		},
		Surname: []string{
			"lastName", "surname", "sn", "family_name", "LastName", "User.LastName",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
			"urn:oid:2.5.4.4",
		},
		Groups: []string{
			"groups", "Groups", "memberOf", "Role", "roles",
			"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
			"urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
		},
	}
}

func (m AttributeMapping) withDefaults() AttributeMapping {
	d := DefaultAttributeMapping()
	if m.Email != nil {
		d.Email = m.Email
	}
	if m.DisplayName != nil {
		d.DisplayName = m.DisplayName
	}
	if m.GivenName != nil {
		d.GivenName = m.GivenName
	}
	if m.Surname != nil {
		d.Surname = m.Surname
	}
	if m.Groups != nil {
		d.Groups = m.Groups
	}
	return d
}

// samlAttribute is one Attribute of an assertion (multiple Attribute elements with the
// same Name are merged by the caller).
type samlAttribute struct {
	name, friendlyName string
	values             []string
}

// lookup returns the values of the first candidate present, by Name then FriendlyName.
func lookup(attrs []samlAttribute, candidates []string) (values []string, found bool) {
	for _, c := range candidates {
		for _, byFriendly := range []bool{false, true} {
			var vals []string
			hit := false
			for _, a := range attrs {
				n := a.name
				if byFriendly {
					n = a.friendlyName
				}
				if n != "" && n == c {
					hit = true
					vals = append(vals, a.values...)
				}
			}
			if hit {
				return vals, true
			}
		}
	}
	return nil, false
}

func firstNonEmpty(vals []string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// mapIdentity applies m (already with defaults) to the attributes and NameID. The email it
// returns is canonical (identity.NormalizeEmail): an address that rule refuses, a non-ASCII
// look-alike for one, is no email at all.
func mapIdentity(m AttributeMapping, attrs []samlAttribute, nameID string) (email, name string, groups []string, err error) {
	if vals, ok := lookup(attrs, m.Email); ok {
		var nonEmpty []string
		for _, v := range vals {
			// XML whitespace only: identity.NormalizeEmail refuses a Unicode space.
			if v = strings.Trim(v, " \t\r\n"); v != "" {
				nonEmpty = append(nonEmpty, v)
			}
		}
		if len(nonEmpty) != 1 {
			return "", "", nil, respErr(CodeNoEmail, "the mapped email attribute does not hold exactly one email address")
		}
		if email, err = identity.NormalizeEmail(nonEmpty[0]); err != nil {
			return "", "", nil, respErr(CodeNoEmail, "the mapped email attribute does not hold an ASCII email address")
		}
	} else if email, err = identity.NormalizeEmail(nameID); err != nil {
		return "", "", nil, respErr(CodeNoEmail, "NameID is not an ASCII email address and no email attribute is mapped")
	}

	if vals, ok := lookup(attrs, m.DisplayName); ok {
		name = firstNonEmpty(vals)
	}
	if name == "" {
		var given, sur string
		if vals, ok := lookup(attrs, m.GivenName); ok {
			given = firstNonEmpty(vals)
		}
		if vals, ok := lookup(attrs, m.Surname); ok {
			sur = firstNonEmpty(vals)
		}
		name = strings.TrimSpace(given + " " + sur)
	}

	for _, c := range m.Groups {
		for _, a := range attrs {
			if a.name != c && a.friendlyName != c {
				continue
			}
			for _, v := range a.values {
				if v = strings.TrimSpace(v); v != "" && !slices.Contains(groups, v) {
					groups = append(groups, v)
				}
			}
		}
	}
	return email, name, groups, nil
}
