package sso

import (
	"testing"

	"github.com/beevik/etree"
)

// XML signature wrapping (Somorovsky et al., "On Breaking SAML", 2012), in the eight shapes
// SAMLRaider generates, rebuilt here with etree on responses signed by xmlsec1. Each evil
// copy names admin@example.com; none may be accepted.

const evilNameID = "admin@example.com"

func setNameID(a *etree.Element, v string) {
	a.FindElement("./saml:Subject/saml:NameID").SetText(v)
}

func dropSignature(el *etree.Element) {
	if s := el.SelectElement("ds:Signature"); s != nil {
		el.RemoveChild(s)
	}
}

func TestXSW(t *testing.T) {
	t.Parallel()
	responseSigned := func(f *fixture, s *respSpec) { s.SignAssertion, s.SignResponse = false, true }
	cases := []checklistCase{
		{name: "Unmodified", setup: responseSigned, after: edit(func(root *etree.Element) {})},
		// XSW1: the evil Response takes a new ID; the original signed Response, without its
		// signature, is hidden inside the Signature.
		{name: "XSW1", want: anyRejection, setup: responseSigned,
			after: edit(func(root *etree.Element) {
				orig := root.Copy()
				dropSignature(orig)
				root.CreateAttr("ID", "_evil")
				setNameID(root.SelectElement("saml:Assertion"), evilNameID)
				root.SelectElement("ds:Signature").AddChild(orig)
			})},
		// XSW2: as XSW1, with the original placed before the Signature, as a sibling.
		{name: "XSW2", want: anyRejection, setup: responseSigned,
			after: edit(func(root *etree.Element) {
				orig := root.Copy()
				dropSignature(orig)
				root.CreateAttr("ID", "_evil")
				setNameID(root.SelectElement("saml:Assertion"), evilNameID)
				sig := root.SelectElement("ds:Signature")
				root.InsertChildAt(sig.Index(), orig)
			})},
		// XSW3: an unsigned evil Assertion with a new ID before the signed one.
		{name: "XSW3", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "_evil")
				root.InsertChildAt(a.Index(), evil)
			})},
		// XSW4: the evil Assertion wraps the signed original.
		{name: "XSW4", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "_evil")
				root.InsertChildAt(a.Index(), evil)
				root.RemoveChild(a)
				evil.AddChild(a)
			})},
		// XSW5: the signed Assertion is altered in place (keeping its Signature); an
		// unaltered copy without signature is appended to the Response.
		{name: "XSW5", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				orig := a.Copy()
				dropSignature(orig)
				setNameID(a, evilNameID)
				a.CreateAttr("ID", "_evil")
				root.AddChild(orig)
			})},
		// XSW6: as XSW5, with the unaltered copy inside the altered Assertion's Signature.
		{name: "XSW6", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				orig := a.Copy()
				dropSignature(orig)
				setNameID(a, evilNameID)
				a.CreateAttr("ID", "_evil")
				a.SelectElement("ds:Signature").AddChild(orig)
			})},
		// XSW7: the signed original moves into an Extensions element; an unsigned evil
		// Assertion with the original ID takes its place.
		{name: "XSW7", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "")
				ext := etree.NewElement("samlp:Extensions")
				root.InsertChildAt(a.Index(), ext)
				root.RemoveChild(a)
				ext.AddChild(a)
				root.AddChild(evil)
			})},
		// XSW8: the altered Assertion keeps its Signature, which carries the unaltered
		// original (without signature) in a ds:Object.
		{name: "XSW8", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				orig := a.Copy()
				dropSignature(orig)
				setNameID(a, evilNameID)
				obj := a.SelectElement("ds:Signature").CreateElement("ds:Object")
				obj.AddChild(orig)
			})},
		// Variants: the evil Assertion shares the signed one's ID; the Response signature is
		// used for an evil sibling Response; the signature moves into Extensions.
		{name: "SameIDTwice", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "")
				root.InsertChildAt(a.Index(), evil)
			})},
		{name: "SignedAssertionInExtensionsEvilUnsignedOutside", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "_evil")
				root.RemoveChild(a)
				ext := root.CreateElement("samlp:Extensions")
				ext.AddChild(a)
				root.AddChild(evil)
			})},
		{name: "SignatureMovedIntoExtensions", want: anyRejection,
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				sig := a.SelectElement("ds:Signature")
				a.RemoveChild(sig)
				root.InsertChildAt(a.Index(), etree.NewElement("samlp:Extensions"))
				root.SelectElement("samlp:Extensions").AddChild(sig)
				setNameID(a, evilNameID)
			})},
		{name: "ResponseSignedEvilAssertionWrapsOriginal", want: anyRejection,
			setup: func(f *fixture, s *respSpec) { s.SignResponse = true },
			after: edit(func(root *etree.Element) {
				a := root.SelectElement("saml:Assertion")
				evil := forgedCopy(a, "_evil")
				root.InsertChildAt(a.Index(), evil)
				root.RemoveChild(a)
				evil.AddChild(a)
			})},
	}
	runChecklist(t, cases)
}

// forgedCopy is the attacker's assertion of the wrapping attacks: a copy of the signed a,
// unsigned, naming evilNameID, with the ID id ("" keeps a's).
func forgedCopy(a *etree.Element, id string) *etree.Element {
	evil := a.Copy()
	if id != "" {
		evil.CreateAttr("ID", id)
	}
	dropSignature(evil)
	setNameID(evil, evilNameID)
	return evil
}
