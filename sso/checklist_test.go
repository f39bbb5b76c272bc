package sso

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/iamkit/iamkit/store"
)

// checklistCase is one line of reference/saml-checklist.md, as a negative (or, where named
// so, positive) test. setup adjusts the fixture and spec before signing; after mutates the
// signed XML; raw, if set, replaces the whole pipeline and gives the form value directly.
type checklistCase struct {
	name  string
	opts  []ValidatorOption
	setup func(f *fixture, s *respSpec)
	after func(t *testing.T, signed []byte) []byte
	raw   func(t *testing.T, f *fixture) string
	want  string // the code of the rejection; "": must be accepted; anyRejection: any
}

// anyRejection is the want of a case that must be rejected, whatever the failed check.
const anyRejection = "*"

func runChecklist(t *testing.T, cases []checklistCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.opts...)
			var form string
			if tc.raw != nil {
				form = tc.raw(t, f)
			} else {
				s := f.spec()
				if tc.setup != nil {
					tc.setup(f, s)
				}
				x := s.signedXML(t)
				if tc.after != nil {
					x = tc.after(t, x)
				}
				form = b64(x)
			}
			a, err := f.validate(form)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if tc.want == anyRejection {
				wantKind(t, a, err, "")
				return
			}
			wantKind(t, a, err, tc.want)
		})
	}
}

func edit(fn func(root *etree.Element)) func(t *testing.T, signed []byte) []byte {
	return func(t *testing.T, signed []byte) []byte {
		return mutate(t, signed, func(doc *etree.Document) { fn(doc.Root()) })
	}
}

func replace(old, new string) func(t *testing.T, signed []byte) []byte {
	return func(t *testing.T, signed []byte) []byte {
		t.Helper()
		if !bytes.Contains(signed, []byte(old)) {
			t.Fatalf("signed XML has no %q", old)
		}
		return bytes.Replace(signed, []byte(old), []byte(new), 1)
	}
}

func deflate(t testing.TB, b []byte) []byte {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// --- Before parsing ----------------------------------------------------------------------

func TestChecklistBeforeParsing(t *testing.T) {
	t.Parallel()
	runChecklist(t, []checklistCase{
		{name: "SizeCapFormOversize", want: CodeResponseTooLarge,
			raw: func(t *testing.T, f *fixture) string { return strings.Repeat("A", DefaultMaxResponseSize+4) }},
		{name: "SizeCapFormConfigurable", want: CodeResponseTooLarge, opts: []ValidatorOption{WithMaxResponseSize(1024)},
			raw: func(t *testing.T, f *fixture) string { return b64(f.spec().signedXML(t)) }},
		{name: "SizeCapDecodedXML", want: CodeResponseTooLarge, opts: []ValidatorOption{WithMaxXMLSize(512)},
			raw: func(t *testing.T, f *fixture) string { return b64(f.spec().signedXML(t)) }},
		{name: "TokenLimitConfigurable", want: CodeUnsafeXML, opts: []ValidatorOption{WithMaxXMLTokens(64)},
			raw: func(t *testing.T, f *fixture) string { return b64(f.spec().signedXML(t)) }},
		// The HTTP-POST binding carries base64 of the XML; DEFLATE belongs to the Redirect
		// binding. Nothing is inflated, so a deflate bomb costs no more than its size.
		{name: "DeflatedResponseRefused", want: CodeMalformedResponse,
			raw: func(t *testing.T, f *fixture) string { return b64(deflate(t, f.spec().signedXML(t))) }},
		{name: "DeflateBomb", want: CodeMalformedResponse,
			raw: func(t *testing.T, f *fixture) string { return b64(deflateBomb(t)) }},
		{name: "NotBase64", want: CodeMalformedResponse,
			raw: func(t *testing.T, f *fixture) string { return "%%%not base64%%%" }},
		{name: "NotXMLNotDeflate", want: CodeMalformedResponse,
			raw: func(t *testing.T, f *fixture) string { return b64([]byte("hello, world")) }},
		{name: "RoundTripUnstableAttribute", want: CodeUnsafeXML,
			after: replace(`<samlp:Response `, `<samlp:Response ::attr="x" `)},
		{name: "RoundTripUnstableElementPrefix", want: CodeUnsafeXML,
			after: replace(`<samlp:Status>`, `<x::Extensions xmlns:x="urn:x"/><samlp:Status>`)},
		{name: "DTDWithEntity", want: CodeUnsafeXML,
			after: func(t *testing.T, signed []byte) []byte {
				x := replace(`alice@example.com`, `&who;`)(t, signed)
				return replace(`<samlp:Response `, `<!DOCTYPE samlp:Response [<!ENTITY who "alice@example.com">]>`+"\n"+`<samlp:Response `)(t, x)
			}},
		{name: "DTDWithoutEntity", want: CodeUnsafeXML,
			after: replace(`<samlp:Response `, `<!DOCTYPE samlp:Response SYSTEM "http://attacker.example/x.dtd">`+"\n"+`<samlp:Response `)},
		{name: "ExternalEntityReference", want: anyRejection,
			after: replace(`alice@example.com`, `&xxe;`)},
		{name: "ProcessingInstruction", want: CodeUnsafeXML,
			after: replace(`<samlp:Status>`, `<?xml-stylesheet href="x"?><samlp:Status>`)},
		{name: "NonUTF8Encoding", want: CodeUnsafeXML,
			after: replace(`encoding="UTF-8"`, `encoding="ISO-8859-1"`)},
		{name: "DuplicateAttribute", want: CodeUnsafeXML,
			after: replace(`<samlp:Response `, `<samlp:Response Version="2.0" `)},
		{name: "DuplicateAttributeAfterNamespaceResolution", want: CodeUnsafeXML,
			after: replace(`<samlp:Response `, `<samlp:Response xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2" `)},
		{name: "NamespacedIDAttribute", want: CodeUnsafeXML,
			after: replace(`<samlp:Response `, `<samlp:Response xmlns:x="urn:x" x:ID="_other" `)},
		{name: "TwoRootElements", want: CodeMalformedResponse,
			after: func(t *testing.T, signed []byte) []byte { return append(signed, []byte("<x/>")...) }},
	})
}

// --- Signature ---------------------------------------------------------------------------

// expiredCert is a certificate for the testdata idp key that expired in 2001.
func expiredCert(t *testing.T) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "idp.key"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired"},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.(*rsa.PrivateKey).Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func signatureOf(root *etree.Element, assertion bool) *etree.Element {
	parent := root
	if assertion {
		parent = root.SelectElement("saml:Assertion")
	}
	return parent.SelectElement("ds:Signature")
}

func TestChecklistSignature(t *testing.T) {
	t.Parallel()
	runChecklist(t, []checklistCase{
		// Metadata certificates only.
		{name: "KeyInfoCertNotInMetadata", want: CodeSignature,
			setup: func(f *fixture, s *respSpec) { s.Key = "attacker" }},
		{name: "KeyInfoClaimsMetadataCertButAttackerSigned", want: CodeSignature,
			setup: func(f *fixture, s *respSpec) { s.Key = "attacker" },
			after: func(t *testing.T, signed []byte) []byte {
				real := readCert(t, "idp.crt")
				return edit(func(root *etree.Element) {
					xc := signatureOf(root, true).FindElement("./ds:KeyInfo/ds:X509Data/ds:X509Certificate")
					xc.SetText(b64(real.Raw))
				})(t, signed)
			}},
		{name: "KeyInfoWithForeignCertIgnoredWhenSignedByIdP",
			after: func(t *testing.T, signed []byte) []byte {
				other := readCert(t, "attacker.crt")
				return edit(func(root *etree.Element) {
					signatureOf(root, true).FindElement("./ds:KeyInfo/ds:X509Data/ds:X509Certificate").SetText(b64(other.Raw))
				})(t, signed)
			}},
		{name: "KeyInfoRemovedStillVerifiesWithMetadataCert",
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.RemoveChild(sig.SelectElement("ds:KeyInfo"))
			})},
		{name: "MetadataCertExpired", want: CodeSignature,
			setup: func(f *fixture, s *respSpec) {
				f.idp.Metadata.Certificates = []*x509.Certificate{expiredCert(f.t.(*testing.T))}
			}},
		{name: "AssertionModifiedAfterSigning", want: CodeSignature,
			after: replace(`alice@example.com`, `admin@example.com`)},
		{name: "ResponseSignedOnlyAssertionModified", want: CodeSignature,
			setup: func(f *fixture, s *respSpec) { s.SignAssertion, s.SignResponse = false, true },
			after: replace(`alice@example.com`, `admin@example.com`)},
		{name: "NeitherSigned", want: CodeSignature,
			setup: func(f *fixture, s *respSpec) { s.SignAssertion = false },
			raw:   nil},
		// Algorithm allow-list.
		{name: "RSASHA1Signature", want: CodeAlgorithm,
			setup: func(f *fixture, s *respSpec) { s.SigAlg = algRSASHA1 }},
		{name: "SHA1Digest", want: CodeAlgorithm,
			setup: func(f *fixture, s *respSpec) { s.DigestAlg = algSHA1 }},
		{name: "RSASHA1ResponseSignature", want: CodeAlgorithm,
			setup: func(f *fixture, s *respSpec) { s.SignAssertion, s.SignResponse, s.SigAlg = false, true, algRSASHA1 }},
		{name: "InclusiveC14N", want: CodeAlgorithm,
			after: replace(`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`,
				`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>`)},
		{name: "UnknownTransform", want: CodeAlgorithm,
			after: replace(`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`,
				`<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>`)},
		// Position and reference.
		{name: "SignatureMovedToResponseReferencesAssertion", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.Parent().RemoveChild(sig)
				root.InsertChildAt(root.SelectElement("samlp:Status").Index(), sig)
			})},
		{name: "SignatureNestedInSubject", want: CodeMalformedResponse,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				a := sig.Parent()
				a.RemoveChild(sig)
				a.SelectElement("saml:Subject").AddChild(sig)
			})},
		{name: "ReferenceURIEmpty", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				signatureOf(root, true).FindElement("./ds:SignedInfo/ds:Reference").CreateAttr("URI", "")
			})},
		{name: "ReferenceURIOtherElement", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				signatureOf(root, true).FindElement("./ds:SignedInfo/ds:Reference").CreateAttr("URI", "#"+attrOr(root, "ID"))
			})},
		{name: "TwoSignaturesOnAssertion", want: CodeMalformedResponse,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.Parent().InsertChildAt(sig.Index(), sig.Copy())
			})},
		// Malformed signatures: errors, never panics.
		{name: "MissingSignatureValue", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.RemoveChild(sig.SelectElement("ds:SignatureValue"))
			})},
		{name: "EmptySignatureValue", want: CodeSignature,
			after: edit(func(root *etree.Element) { signatureOf(root, true).SelectElement("ds:SignatureValue").SetText("") })},
		{name: "GarbageSignatureValue", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				signatureOf(root, true).SelectElement("ds:SignatureValue").SetText("!!not*base64!!")
			})},
		{name: "TwoSignedInfo", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.InsertChildAt(0, sig.SelectElement("ds:SignedInfo").Copy())
			})},
		{name: "TwoReferences", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				si := signatureOf(root, true).SelectElement("ds:SignedInfo")
				si.AddChild(si.SelectElement("ds:Reference").Copy())
			})},
		{name: "NoSignedInfo", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				sig.RemoveChild(sig.SelectElement("ds:SignedInfo"))
			})},
		{name: "MissingDigestValue", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				ref := signatureOf(root, true).FindElement("./ds:SignedInfo/ds:Reference")
				ref.RemoveChild(ref.SelectElement("ds:DigestValue"))
			})},
		{name: "GarbageDigestValue", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				signatureOf(root, true).FindElement("./ds:SignedInfo/ds:Reference/ds:DigestValue").SetText("@@@")
			})},
		{name: "ObjectInSignature", want: CodeSignature,
			after: edit(func(root *etree.Element) { signatureOf(root, true).CreateElement("ds:Object").SetText("x") })},
		{name: "EmptySignatureElement", want: CodeSignature,
			after: edit(func(root *etree.Element) {
				sig := signatureOf(root, true)
				for _, c := range sig.ChildElements() {
					sig.RemoveChild(c)
				}
			})},
		{name: "SignatureMethodMissingAlgorithm", want: CodeAlgorithm,
			after: edit(func(root *etree.Element) {
				signatureOf(root, true).FindElement("./ds:SignedInfo/ds:SignatureMethod").RemoveAttr("Algorithm")
			})},
	})
}

// TestGoxmldsigAcceptsSHA1 shows the SHA-1 rejection above is ours: goxmldsig alone accepts
// an rsa-sha1 / sha1 signature.
func TestGoxmldsigAcceptsSHA1(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.spec()
	s.SigAlg, s.DigestAlg = algRSASHA1, algSHA1
	s.SignAssertion, s.SignResponse = false, true
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(s.signedXML(t)); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{readCert(t, "idp.crt")}})
	vc.Clock = dsig.NewFakeClockAt(t0)
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("goxmldsig rejected the SHA-1 fixture (%v); the test no longer proves our allow-list", err)
	}
	a, err := f.validate(b64(s.signedXML(t)))
	wantKind(t, a, err, CodeAlgorithm)
}

// --- Assertion count, comment injection --------------------------------------------------

func TestChecklistAssertions(t *testing.T) {
	t.Parallel()
	evil := func(where string) func(t *testing.T, signed []byte) []byte {
		return edit(func(root *etree.Element) {
			a := root.SelectElement("saml:Assertion")
			e := a.Copy()
			e.CreateAttr("ID", "_evil")
			e.RemoveChild(e.SelectElement("ds:Signature"))
			e.FindElement("./saml:Subject/saml:NameID").SetText("admin@example.com")
			if where == "before" {
				root.InsertChildAt(a.Index(), e)
			} else {
				root.AddChild(e)
			}
		})
	}
	runChecklist(t, []checklistCase{
		{name: "TwoAssertionsForgedAfterSigned", want: CodeMalformedResponse, after: evil("after")},
		{name: "TwoAssertionsForgedBeforeSigned", want: CodeMalformedResponse, after: evil("before")},
		{name: "TwoAssertionsInSignedResponse", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.SignResponse = true }, after: evil("after")},
		{name: "NoAssertion", want: CodeMalformedResponse,
			after: edit(func(root *etree.Element) { root.RemoveChild(root.SelectElement("saml:Assertion")) })},
		{name: "EncryptedAssertionRejected", want: CodeEncryptedAssertion,
			setup: func(f *fixture, s *respSpec) { s.SignAssertion, s.SignResponse = false, true },
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				root.RemoveChild(a)
				ea := root.CreateElement("saml:EncryptedAssertion")
				ed := ea.CreateElement("xenc:EncryptedData")
				ed.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
				ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/04/xmlenc#rsa-1_5")
			})},
		{name: "DuplicateIDs", want: CodeMalformedResponse,
			after: edit(func(root *etree.Element) {
				root.SelectElement("samlp:Status").CreateAttr("ID", attrOr(root.SelectElement("saml:Assertion"), "ID"))
			})},
	})
}

func TestChecklistCommentInjection(t *testing.T) {
	t.Parallel()
	for _, responseSigned := range []bool{false, true} {
		name := map[bool]string{false: "AssertionSigned", true: "ResponseSigned"}[responseSigned]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			s := f.spec()
			s.NameIDRaw = "alice@example.com.evil.com"
			s.Attrs = append(s.Attrs, attrSpec{Name: "email", Values: []string{"alice@example.com.evil.com"}})
			s.SignAssertion, s.SignResponse = !responseSigned, responseSigned
			x := s.signedXML(t)
			x = bytes.ReplaceAll(x, []byte("alice@example.com.evil.com"), []byte("alice@example.com<!---->.evil.com"))
			a, err := f.validate(b64(x))
			if err != nil {
				t.Fatal(err)
			}
			if a.NameID != "alice@example.com.evil.com" || a.Email != "alice@example.com.evil.com" {
				t.Fatalf("comment truncated a value: NameID %q Email %q", a.NameID, a.Email)
			}
		})
	}
}

// --- Protocol ----------------------------------------------------------------------------

func TestChecklistProtocol(t *testing.T) {
	t.Parallel()
	runChecklist(t, []checklistCase{
		{name: "StatusNotSuccess", want: CodeStatus,
			setup: func(f *fixture, s *respSpec) { s.Status = "urn:oasis:names:tc:SAML:2.0:status:Requester" }},
		{name: "StatusMissing", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.OmitStatus = true }},
		{name: "ResponseVersionNot20", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.Version = "1.1" }},
		{name: "AssertionVersionNot20", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.AssertionVersion = "1.1" }},
		{name: "WrongDestination", want: CodeDestination,
			setup: func(f *fixture, s *respSpec) { s.Destination = "https://sp.example.com/sso/ac_test/idp_other/acs" }},
		{name: "WrongDestinationResponseSigned", want: CodeDestination,
			setup: func(f *fixture, s *respSpec) { s.Destination, s.SignResponse = "https://evil.example/acs", true }},
		{name: "MissingDestinationResponseSigned", want: CodeDestination,
			setup: func(f *fixture, s *respSpec) { s.Destination, s.SignResponse = "", true }},
		{name: "WrongResponseIssuer", want: CodeIssuer,
			setup: func(f *fixture, s *respSpec) { s.RespIssuer = "https://evil.example/idp" }},
		{name: "WrongAssertionIssuer", want: CodeIssuer,
			setup: func(f *fixture, s *respSpec) { s.Issuer = "https://evil.example/idp" }},
		{name: "EmptyAssertionIssuer", want: CodeIssuer,
			setup: func(f *fixture, s *respSpec) { s.Issuer = "" }},
		{name: "InResponseToUnknown", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) { s.InResponseTo, s.SCDInResponseTo = "_never_issued", "_never_issued" }},
		{name: "InResponseToOfAnotherIdP", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) {
				other := &AuthnRequest{ID: "_req_for_other_idp", IdPID: "idp_other"}
				if err := f.v.TrackRequest(context.Background(), other); err != nil {
					f.t.Fatal(err)
				}
				s.InResponseTo, s.SCDInResponseTo = other.ID, other.ID
			}},
		{name: "InResponseToExpiredRequest", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) {
				f.clock.Advance(DefaultRequestTTL + time.Second)
				ns := f.spec() // fresh times at the new now
				ns.InResponseTo, ns.SCDInResponseTo = f.reqID, f.reqID
				*s = *ns
			}},
		{name: "InResponseToMismatchResponseVsSubject", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) { s.InResponseTo = f.track() }},
		{name: "InResponseToOnlyOnResponse", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) { s.SCDInResponseTo = "" }},
		{name: "UnsolicitedWhenIdPDisallows", want: CodeUnsolicited,
			setup: func(f *fixture, s *respSpec) { s.InResponseTo, s.SCDInResponseTo = "", "" }},
		{name: "UnsolicitedWhenIdPAllows",
			setup: func(f *fixture, s *respSpec) {
				f.idp.AllowIdPInitiated = true
				s.InResponseTo, s.SCDInResponseTo = "", ""
			}},
		{name: "IdPInitiatedAllowedButUnknownInResponseTo", want: CodeUnknownRequest,
			setup: func(f *fixture, s *respSpec) {
				f.idp.AllowIdPInitiated = true
				s.InResponseTo, s.SCDInResponseTo = "_never_issued", "_never_issued"
			}},
		{name: "ConditionsMissing", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.OmitConditions = true }},
		{name: "ConditionsNotBeforeMissing", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.NotBefore = "" }},
		{name: "ConditionsNotOnOrAfterMissing", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.NotOnOrAfter = "" }},
		{name: "NotYetValid", want: CodeNotYetValid,
			setup: func(f *fixture, s *respSpec) { s.NotBefore = ts(t0.Add(DefaultClockSkew + time.Minute)) }},
		{name: "NotBeforeWithinSkew",
			setup: func(f *fixture, s *respSpec) { s.NotBefore = ts(t0.Add(DefaultClockSkew - 10*time.Second)) }},
		{name: "Expired", want: CodeExpired,
			setup: func(f *fixture, s *respSpec) { s.NotOnOrAfter = ts(t0.Add(-DefaultClockSkew - time.Second)) }},
		{name: "NotOnOrAfterWithinSkew",
			setup: func(f *fixture, s *respSpec) { s.NotOnOrAfter = ts(t0.Add(-DefaultClockSkew + 10*time.Second)) }},
		{name: "NotOnOrAfterZeroSkew", want: CodeExpired, opts: []ValidatorOption{WithClockSkew(0)},
			setup: func(f *fixture, s *respSpec) { s.NotOnOrAfter = ts(t0.Add(-time.Second)) }},
		{name: "AudienceRestrictionMissing", want: CodeAudience,
			setup: func(f *fixture, s *respSpec) { s.Audiences = nil }},
		{name: "WrongAudience", want: CodeAudience,
			setup: func(f *fixture, s *respSpec) { s.Audiences = [][]string{{"https://other-sp.example/metadata"}} }},
		{name: "AudienceOfAnotherAccountsSP", want: CodeAudience,
			setup: func(f *fixture, s *respSpec) {
				s.Audiences = [][]string{{"https://sp.example.com/sso/ac_other/idp_test1/metadata"}}
			}},
		{name: "EveryAudienceRestrictionMustMatch", want: CodeAudience,
			setup: func(f *fixture, s *respSpec) {
				s.Audiences = [][]string{{f.sp.EntityID}, {"https://other-sp.example/metadata"}}
			}},
		{name: "AudienceAmongSeveralInOneRestriction",
			setup: func(f *fixture, s *respSpec) {
				s.Audiences = [][]string{{"https://other-sp.example/metadata", f.sp.EntityID}, {f.sp.EntityID}}
			}},
		{name: "UnknownConditionRejected", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) {
				s.ExtraConditions = `<saml:Condition xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x:Custom" xmlns:x="urn:x"/>`
			}},
		{name: "OneTimeUseConditionAccepted",
			setup: func(f *fixture, s *respSpec) { s.ExtraConditions = `<saml:OneTimeUse/>` }},
		{name: "WrongRecipient", want: CodeRecipient,
			setup: func(f *fixture, s *respSpec) { s.Recipient = "https://evil.example/acs" }},
		{name: "RecipientOfAnotherIdPsACS", want: CodeRecipient,
			setup: func(f *fixture, s *respSpec) { s.Recipient = "https://sp.example.com/sso/ac_test/idp_other/acs" }},
		{name: "SubjectConfirmationMissing", want: CodeRecipient,
			setup: func(f *fixture, s *respSpec) { s.OmitSubjectConfirm = true }},
		{name: "SubjectConfirmationNotBearer", want: CodeRecipient,
			setup: func(f *fixture, s *respSpec) { s.Method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key" }},
		{name: "SubjectConfirmationExpired", want: CodeExpired,
			setup: func(f *fixture, s *respSpec) { s.SCDNotOnOrAfter = ts(t0.Add(-DefaultClockSkew - time.Second)) }},
		{name: "SubjectConfirmationNotOnOrAfterMissing", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.SCDNotOnOrAfter = "" }},
		{name: "IssueInstantTooOld", want: CodeExpired,
			setup: func(f *fixture, s *respSpec) {
				s.IssueInstant = ts(t0.Add(-DefaultMaxIssueAge - DefaultClockSkew - time.Second))
			}},
		{name: "AssertionIssueInstantTooOld", want: CodeExpired,
			setup: func(f *fixture, s *respSpec) {
				s.AssertionIssueInstant = ts(t0.Add(-DefaultMaxIssueAge - DefaultClockSkew - time.Second))
			}},
		{name: "IssueInstantMaxAgeConfigurable", want: CodeExpired, opts: []ValidatorOption{WithMaxIssueAge(10 * time.Second), WithClockSkew(0)},
			setup: func(f *fixture, s *respSpec) { s.IssueInstant = ts(t0.Add(-11 * time.Second)) }},
		{name: "IssueInstantInFuture", want: CodeNotYetValid,
			setup: func(f *fixture, s *respSpec) { s.IssueInstant = ts(t0.Add(DefaultClockSkew + time.Minute)) }},
		{name: "SessionNotOnOrAfterPassed", want: CodeExpired,
			setup: func(f *fixture, s *respSpec) { s.SessionNotOnOrAfter = ts(t0.Add(-time.Hour)) }},
		{name: "NameIDNotEmailNoEmailAttribute", want: CodeNoEmail,
			setup: func(f *fixture, s *respSpec) { s.NameIDRaw, s.NameIDFormat = "00u1abcd", NameIDFormatPersistent }},
		{name: "NameIDNotEmailButEmailAttribute",
			setup: func(f *fixture, s *respSpec) {
				s.NameIDRaw, s.NameIDFormat = "00u1abcd", NameIDFormatPersistent
				s.Attrs = append(s.Attrs, attrSpec{Name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", Values: []string{"alice@example.com"}})
			}},
		{name: "CustomEmailAttributeMapping",
			setup: func(f *fixture, s *respSpec) {
				f.idp.Attributes.Email = []string{"corpMail"}
				s.NameIDRaw = "not-an-email"
				s.Attrs = append(s.Attrs, attrSpec{Name: "corpMail", Values: []string{"alice@example.com"}})
			}},
		{name: "EmailAttributeTwoValues", want: CodeNoEmail,
			setup: func(f *fixture, s *respSpec) {
				s.Attrs = append(s.Attrs, attrSpec{Name: "email", Values: []string{"alice@example.com", "bob@example.com"}})
			}},
		{name: "EmailAttributeNotAnEmail", want: CodeNoEmail,
			setup: func(f *fixture, s *respSpec) {
				s.Attrs = append(s.Attrs, attrSpec{Name: "email", Values: []string{"Alice &lt;alice@example.com&gt;"}})
			}},
		{name: "NameIDEmpty", want: CodeMalformedResponse,
			setup: func(f *fixture, s *respSpec) { s.NameIDRaw = "  " }},
		{name: "WrongRoot", want: CodeMalformedResponse,
			raw: func(t *testing.T, f *fixture) string {
				return b64([]byte(`<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>`))
			}},
	})
}

// --- Single use: request IDs and the replay cache ----------------------------------------

func TestChecklistRequestIDSingleUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := f.spec()
	if _, err := f.validate(b64(s.signedXML(t))); err != nil {
		t.Fatal(err)
	}
	// A second, different assertion answering the same request.
	s.RespID, s.AssertionID = "_resp_second", "_assert_second"
	a, err := f.validate(b64(s.signedXML(t)))
	wantKind(t, a, err, CodeUnknownRequest)
}

func TestChecklistReplay(t *testing.T) {
	t.Parallel()
	t.Run("SameValidator", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := f.unsolicited(t)
		if _, err := f.validate(form); err != nil {
			t.Fatal(err)
		}
		a, err := f.validate(form)
		wantKind(t, a, err, CodeReplay)
	})
	t.Run("SPInitiatedReplay", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := b64(f.spec().signedXML(t))
		if _, err := f.validate(form); err != nil {
			t.Fatal(err)
		}
		a, err := f.validate(form)
		wantKind(t, a, err, CodeReplay)
	})
	t.Run("AcrossSPInstancesSharingAStore", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := f.unsolicited(t)
		v2, err := NewValidator(f.store, f.clock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.validate(form); err != nil {
			t.Fatal(err)
		}
		a, err := v2.ValidateResponse(context.Background(), f.sp, f.idp, form)
		wantKind(t, a, err, CodeReplay)
	})
	t.Run("ReplayJustBeforeExpiryStillCaught", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := f.unsolicited(t)
		if _, err := f.validate(form); err != nil {
			t.Fatal(err)
		}
		// IssueInstant was t0-5s: still within max age + skew 4m20s later.
		f.clock.Advance(4*time.Minute + 20*time.Second)
		a, err := f.validate(form)
		wantKind(t, a, err, CodeReplay)
	})
	t.Run("ReplayAfterCacheExpiryIsExpired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := f.unsolicited(t)
		if _, err := f.validate(form); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
		a, err := f.validate(form)
		wantKind(t, a, err, CodeExpired)
	})
	t.Run("ConcurrentOnlyOneWins", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		form := b64(f.spec().signedXML(t))
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := f.validate(form)
				errs <- err
			}()
		}
		ok := 0
		for range n {
			if err := <-errs; err == nil {
				ok++
			} else if store.CodeOf(err) != CodeReplay && store.CodeOf(err) != CodeUnknownRequest {
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent submissions accepted, want 1", ok, n)
		}
	})
}

// failingStore fails every call, to show store errors are not reported as bad responses.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) PutSingleUse(context.Context, string, []byte, time.Time) error {
	return errStoreDown
}
func (failingStore) TakeSingleUse(context.Context, string) ([]byte, error) { return nil, errStoreDown }

func TestStoreFailureIsNotInvalidResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	form := b64(f.spec().signedXML(t))
	v, err := NewValidator(failingStore{}, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.ValidateResponse(context.Background(), f.sp, f.idp, form)
	if !errors.Is(err, errStoreDown) || isResponseErr(err) {
		t.Fatalf("got %v, want a wrapped store error that is not a rejected response", err)
	}
}

func TestStoreContractErrors(t *testing.T) {
	t.Parallel()
	// The memstore the tests use returns errors matching store.ErrConflict/ErrNotFound.
	st := memT(t, nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := st.PutSingleUse(ctx, "k", nil, exp); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSingleUse(ctx, "k", nil, exp); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v", err)
	}
	if _, err := st.TakeSingleUse(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v", err)
	}
}

func TestValidateResponseConfigErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	otherSP, _ := NewServiceProvider(testBaseURL, testAccountID, "idp_other")
	for name, call := range map[string]func() error{
		"nil sp":  func() error { _, err := f.v.ValidateResponse(context.Background(), nil, f.idp, ""); return err },
		"nil idp": func() error { _, err := f.v.ValidateResponse(context.Background(), f.sp, nil, ""); return err },
		"sp of other idp": func() error {
			_, err := f.v.ValidateResponse(context.Background(), otherSP, f.idp, "")
			return err
		},
	} {
		if err := call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: got %v, want store.ErrInvalid", name, err)
		}
	}
	for _, o := range []ValidatorOption{WithClockSkew(-1), WithMaxIssueAge(0), WithRequestTTL(0), WithMaxResponseSize(0), WithMaxXMLSize(-1), WithMaxXMLTokens(0), WithMaxXMLTokens(1<<20 + 1)} {
		if _, err := NewValidator(f.store, f.clock, o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad option accepted: %v", err)
		}
	}
	if _, err := NewValidator(nil, f.clock); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("nil store accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.v.ValidateResponse(ctx, f.sp, f.idp, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v", err)
	}
}

// unsolicited lets the fixture's IdP log in IdP-initiated and returns such a response,
// signed and encoded as posted.
func (f *fixture) unsolicited(t *testing.T) string {
	t.Helper()
	f.idp.AllowIdPInitiated = true
	s := f.spec()
	s.InResponseTo, s.SCDInResponseTo = "", ""
	return b64(s.signedXML(t))
}
