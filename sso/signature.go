package sso

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Algorithms accepted in a signature. Anything else, notably rsa-sha1 and sha1 digests
// (which goxmldsig accepts and has no switch for), is rejected before verification.
const (
	algExcC14N      = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped    = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algDigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	algDigestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	algDigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

func allowedSignatureMethod(alg string) bool {
	switch alg {
	case dsig.RSASHA256SignatureMethod, dsig.RSASHA384SignatureMethod, dsig.RSASHA512SignatureMethod,
		dsig.ECDSASHA256SignatureMethod, dsig.ECDSASHA384SignatureMethod, dsig.ECDSASHA512SignatureMethod:
		return true
	}
	return false
}

func allowedDigestMethod(alg string) bool {
	switch alg {
	case algDigestSHA256, algDigestSHA384, algDigestSHA512:
		return true
	}
	return false
}

// checkSignatureShape checks the one Signature that must sign the element whose ID is id, of
// which it is a direct child (the caller has established that): one SignedInfo, one
// SignatureValue, at most one KeyInfo and nothing else (no Object); SignedInfo with exclusive
// canonicalization, an allowed SignatureMethod and exactly one Reference, to "#"+id, with the
// enveloped-signature transform, optionally exclusive canonicalization, and an allowed
// DigestMethod. Since goxmldsig verifies exactly this SignedInfo (it requires a single one),
// the algorithms checked here are the algorithms of the verified signature.
func checkSignatureShape(sig *etree.Element, id string) error {
	var signedInfo, sigValue *etree.Element
	keyInfos := 0
	for _, c := range sig.ChildElements() {
		switch {
		case isEl(c, nsDSig, "SignedInfo") && signedInfo == nil:
			signedInfo = c
		case isEl(c, nsDSig, "SignatureValue") && sigValue == nil:
			sigValue = c
		case isEl(c, nsDSig, "KeyInfo") && keyInfos == 0:
			keyInfos++
		default:
			return respErr(CodeSignature, "Signature has a repeated or unexpected child element")
		}
	}
	if signedInfo == nil || sigValue == nil {
		return respErr(CodeSignature, "Signature lacks SignedInfo or SignatureValue")
	}
	if v, ok := textOf(sigValue); !ok || len(v) == 0 {
		return respErr(CodeSignature, "SignatureValue is empty")
	}

	var c14n, method, ref *etree.Element
	for _, c := range signedInfo.ChildElements() {
		switch {
		case isEl(c, nsDSig, "CanonicalizationMethod") && c14n == nil:
			c14n = c
		case isEl(c, nsDSig, "SignatureMethod") && method == nil:
			method = c
		case isEl(c, nsDSig, "Reference") && ref == nil:
			ref = c
		default:
			return respErr(CodeSignature, "SignedInfo has a repeated or unexpected child element (one Reference only)")
		}
	}
	if c14n == nil || method == nil || ref == nil {
		return respErr(CodeSignature, "SignedInfo lacks CanonicalizationMethod, SignatureMethod or Reference")
	}
	if attrOr(c14n, "Algorithm") != algExcC14N || len(c14n.ChildElements()) != 0 {
		return respErr(CodeAlgorithm, "canonicalization method is not exclusive c14n")
	}
	if !allowedSignatureMethod(attrOr(method, "Algorithm")) {
		return respErr(CodeAlgorithm, "signature method is not RSA or ECDSA with SHA-256/384/512")
	}
	if uri, ok := attrValue(ref, "URI"); !ok || id == "" || uri != "#"+id {
		return respErr(CodeSignature, "signature does not reference the ID of the element that contains it")
	}

	var transforms, digestMethod, digestValue *etree.Element
	for _, c := range ref.ChildElements() {
		switch {
		case isEl(c, nsDSig, "Transforms") && transforms == nil:
			transforms = c
		case isEl(c, nsDSig, "DigestMethod") && digestMethod == nil:
			digestMethod = c
		case isEl(c, nsDSig, "DigestValue") && digestValue == nil:
			digestValue = c
		default:
			return respErr(CodeSignature, "Reference has a repeated or unexpected child element")
		}
	}
	if transforms == nil || digestMethod == nil || digestValue == nil {
		return respErr(CodeSignature, "Reference lacks Transforms, DigestMethod or DigestValue")
	}
	if !allowedDigestMethod(attrOr(digestMethod, "Algorithm")) {
		return respErr(CodeAlgorithm, "digest method is not SHA-256/384/512")
	}
	enveloped, excl := 0, 0
	for _, t := range transforms.ChildElements() {
		if !isEl(t, nsDSig, "Transform") {
			return respErr(CodeSignature, "Transforms has an unexpected child element")
		}
		switch attrOr(t, "Algorithm") {
		case algEnveloped:
			enveloped++
			if len(t.ChildElements()) != 0 {
				return respErr(CodeSignature, "enveloped-signature transform has children")
			}
		case algExcC14N:
			excl++
			for _, c := range t.ChildElements() {
				if !isEl(c, algExcC14N, "InclusiveNamespaces") {
					return respErr(CodeSignature, "exclusive c14n transform has an unexpected child")
				}
			}
		default:
			return respErr(CodeAlgorithm, "transform is not enveloped-signature or exclusive c14n")
		}
	}
	if enveloped != 1 || excl > 1 {
		return respErr(CodeSignature, "want one enveloped-signature transform and at most one exclusive c14n")
	}
	return nil
}

// verifySigned verifies the Signature sig, a direct child of el, against each of certs in
// turn, and returns the element goxmldsig rebuilt from the exact bytes it digested. Only the
// returned element may be read: it is the signed content and nothing else (no comments, no
// wrapped siblings). Any KeyInfo in the message is removed first, so a certificate the
// message carries is never consulted, let alone trusted; certificates are checked to be
// valid at now, and to be within the key policy (a *ConfigError matching ErrKeyPolicy
// otherwise, whatever the message).
func verifySigned(el, sig *etree.Element, certs []*x509.Certificate, now time.Time) (*etree.Element, error) {
	id := attrOr(el, "ID")
	if err := checkSignatureShape(sig, id); err != nil {
		return nil, err
	}
	pctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, respErrCause(CodeMalformedResponse, "namespace context", err)
	}
	detached, err := etreeutils.NSDetatch(pctx, el)
	if err != nil {
		return nil, respErrCause(CodeMalformedResponse, "namespace context", err)
	}
	for _, s := range childrenNS(detached, nsDSig, "Signature") {
		for _, ki := range childrenNS(s, nsDSig, "KeyInfo") {
			s.RemoveChild(ki)
		}
	}
	if len(certs) == 0 {
		return nil, respErr(CodeSignature, "the IdP has no certificates")
	}
	if err := checkCertificates(certs); err != nil {
		return nil, err // never verify with a key outside the policy
	}
	var lastErr error
	for _, cert := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.Clock = dsig.NewFakeClockAt(now)
		candidate := detached
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
			candidate = ecdsaSignatureToDER(detached, pub)
		}
		out, err := vc.Validate(candidate)
		if err != nil {
			lastErr = err
			continue
		}
		if out == nil || out.Tag != el.Tag || out.NamespaceURI() != el.NamespaceURI() || attrOr(out, "ID") != id {
			return nil, respErr(CodeSignature, "verified element is not the signed element")
		}
		return out, nil
	}
	return nil, respErrCause(CodeSignature, "signature does not verify with the IdP's certificates", lastErr)
}

// ecdsaSignatureToDER returns a copy of el whose direct-child Signature's SignatureValue, if
// it is in the XML-DSig ECDSA form (r and s as two big-endian integers of the curve's size,
// concatenated; RFC 4050 and XML-DSig 1.1), is re-encoded as the ASN.1 DER sequence that
// goxmldsig (through crypto/x509) expects. The SignatureValue is outside the signed content,
// so this changes what is verified in form only. Any other value is left alone.
func ecdsaSignatureToDER(el *etree.Element, pub *ecdsa.PublicKey) *etree.Element {
	size := (pub.Curve.Params().BitSize + 7) / 8
	el = el.Copy()
	for _, s := range childrenNS(el, nsDSig, "Signature") {
		for _, sv := range childrenNS(s, nsDSig, "SignatureValue") {
			txt, ok := textOf(sv)
			if !ok {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(txt), ""))
			if err != nil || len(raw) != 2*size {
				continue
			}
			der, err := asn1.Marshal(struct{ R, S *big.Int }{
				new(big.Int).SetBytes(raw[:size]), new(big.Int).SetBytes(raw[size:]),
			})
			if err != nil {
				continue
			}
			sv.SetText(base64.StdEncoding.EncodeToString(der))
		}
	}
	return el
}
