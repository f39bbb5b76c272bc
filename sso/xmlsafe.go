package sso

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// XML namespaces this package reads.
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"
)

// xmlLimits bounds the work spent on one untrusted document.
type xmlLimits struct {
	maxDepth  int // element nesting
	maxTokens int // tokens of any kind
}

// xmlParseError is what parseUntrustedXML returns; unsafe distinguishes a document that is
// refused on principle (DTD, round-trip instability, limits) from one that is merely broken.
type xmlParseError struct {
	unsafe bool
	reason string
	err    error
}

func (e *xmlParseError) Error() string { return joinMsg("xml", e.reason, e.err) }
func (e *xmlParseError) Unwrap() error { return e.err }

var errCharset = errors.New("only UTF-8 documents are accepted")

func rejectCharset(string, io.Reader) (io.Reader, error) { return nil, errCharset }

// parseUntrustedXML turns bytes from the network into an etree document, after checking, in
// this order, that they are UTF-8, that they survive an encoding/xml round trip unchanged
// (mattermost/xml-roundtrip-validator), and that a strict token scan finds no DTD or other
// directive, no entity other than the five predefined ones and character references, no
// processing instruction other than the XML declaration, no non-UTF-8 encoding, no duplicate
// or namespaced ID attributes, a single root element, and nothing beyond the limits.
func parseUntrustedXML(data []byte, lim xmlLimits) (*etree.Document, error) {
	if !utf8.Valid(data) {
		return nil, &xmlParseError{unsafe: true, reason: "not valid UTF-8"}
	}
	if err := xrv.Validate(bytes.NewReader(data)); err != nil {
		return nil, &xmlParseError{unsafe: true, reason: "XML round-trip check failed", err: err}
	}
	if err := scanTokens(data, lim); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: rejectCharset, MaxDepth: lim.maxDepth + 1}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, &xmlParseError{reason: "XML parse failed", err: err}
	}
	if doc.Root() == nil {
		return nil, &xmlParseError{reason: "no root element"}
	}
	return doc, nil
}

func scanTokens(data []byte, lim xmlLimits) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = rejectCharset
	depth, tokens, roots := 0, 0, 0
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errCharset) {
				return &xmlParseError{unsafe: true, reason: "non-UTF-8 encoding declared", err: err}
			}
			return &xmlParseError{reason: "XML parse failed", err: err}
		}
		tokens++
		if tokens > lim.maxTokens {
			return &xmlParseError{unsafe: true, reason: "too many XML tokens"}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return &xmlParseError{reason: "more than one root element"}
				}
			}
			depth++
			if depth > lim.maxDepth {
				return &xmlParseError{unsafe: true, reason: "XML nested too deeply"}
			}
			if err := checkAttrs(t.Attr); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) != 0 {
				return &xmlParseError{reason: "text outside the root element"}
			}
		case xml.Directive:
			return &xmlParseError{unsafe: true, reason: "DTDs and other directives are not accepted"}
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				return &xmlParseError{unsafe: true, reason: "processing instructions are not accepted"}
			}
		}
		first = false
	}
	if roots != 1 {
		return &xmlParseError{reason: "no root element"}
	}
	return nil
}

func checkAttrs(attrs []xml.Attr) error {
	for i, a := range attrs {
		if a.Name.Local == "ID" && a.Name.Space != "" {
			return &xmlParseError{unsafe: true, reason: "namespaced ID attribute"}
		}
		for _, b := range attrs[:i] {
			if a.Name == b.Name {
				return &xmlParseError{unsafe: true, reason: "duplicate attribute"}
			}
		}
	}
	return nil
}

// isEl reports whether el is the element {ns}local.
func isEl(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// childrenNS returns el's child elements named {ns}local.
func childrenNS(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if isEl(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// oneChild returns el's only child named {ns}local; n is how many there are.
func oneChild(el *etree.Element, ns, local string) (child *etree.Element, n int) {
	cs := childrenNS(el, ns, local)
	if len(cs) == 1 {
		return cs[0], 1
	}
	return nil, len(cs)
}

// attrValue returns the unprefixed attribute name of el. (etree's SelectAttr would also
// match a prefixed attribute with the same local name.)
func attrValue(el *etree.Element, name string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value, true
		}
	}
	return "", false
}

func attrOr(el *etree.Element, name string) string {
	v, _ := attrValue(el, name)
	return v
}

// textOf returns the concatenation of all of el's character data, skipping comments and
// processing instructions, so that a comment can never truncate a value. ok is false when el
// has child elements (a value must be plain text).
func textOf(el *etree.Element) (s string, ok bool) {
	var b strings.Builder
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			b.WriteString(c.Data)
		case *etree.Element:
			return "", false
		}
	}
	return b.String(), true
}

// walk calls fn for el and every descendant element, depth first, in document order.
func walk(el *etree.Element, fn func(*etree.Element)) {
	fn(el)
	for _, c := range el.ChildElements() {
		walk(c, fn)
	}
}
