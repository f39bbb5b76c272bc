package sso

import (
	"slices"
	"testing"
)

func TestValidateResponseAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(f *fixture, s *respSpec)
	}{
		{"assertion signed", func(f *fixture, s *respSpec) {}},
		{"response signed only", func(f *fixture, s *respSpec) { s.SignAssertion, s.SignResponse = false, true }},
		{"both signed", func(f *fixture, s *respSpec) { s.SignResponse = true }},
		{"ecdsa-sha256", func(f *fixture, s *respSpec) {
			s.Key, s.SigAlg = "idp-ec", algECSHA256
			f.idp.Metadata.Certificates = append(f.idp.Metadata.Certificates, readCert(t, "idp-ec.crt"))
		}},
		{"rotated second certificate", func(f *fixture, s *respSpec) {
			s.Key = "idp2"
			f.idp.Metadata.Certificates = append(f.idp.Metadata.Certificates, readCert(t, "idp2.crt"))
		}},
		{"no response issuer", func(f *fixture, s *respSpec) { s.RespIssuer = "" }},
		{"unsigned response without destination", func(f *fixture, s *respSpec) { s.Destination = "" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.spec()
			tc.setup(f, s)
			a, err := f.validate(b64(s.signedXML(t)))
			if err != nil {
				t.Fatal(err)
			}
			if a.NameID != "alice@example.com" || a.Email != "alice@example.com" || a.Name != "Alice Example" ||
				!slices.Equal(a.Groups, []string{"admins", "devs"}) || a.IdPEntityID != testIdPEntityID ||
				a.InResponseTo != f.reqID || a.IdPInitiated || a.SessionIndex != "_session1" || a.AssertionID != s.AssertionID {
				t.Fatalf("unexpected assertion %+v", a)
			}
		})
	}
}
