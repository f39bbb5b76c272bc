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

// xmlLimits bound the work spent on one untrusted document. The checks run cheapest first
// (see parseUntrustedXML), and the pre-scan enforces every limit before anything costlier
// sees the document, so a document's cost is bounded by the limits, not by its content.
type xmlLimits struct {
	maxBytes     int // bytes of the document
	maxTokens    int // tokens of any kind, each attribute counting as one more
	maxDepth     int // element nesting
	maxAttrs     int // attributes of one element, namespace declarations included
	maxNSInScope int // namespace declarations in scope at any one point
	maxNameLen   int // bytes of an element or attribute name, prefix included

	// beforeRoundTrip, if not nil, is called when a document reaches the round-trip
	// validator: tests count the documents the cheap checks let through.
	beforeRoundTrip func()
}

// xmlParseError is what parseUntrustedXML returns; unsafe distinguishes a document that is
// refused on principle (DTD, round-trip instability, limits) from one that is merely broken.
type xmlParseError struct {
	unsafe bool
	reason string
	err    error
}

func (e *xmlParseError) Error() string {
	if e.err != nil {
		return "xml: " + e.reason + ": " + e.err.Error()
	}
	return "xml: " + e.reason
}
func (e *xmlParseError) Unwrap() error { return e.err }

func unsafeXML(reason string) error { return &xmlParseError{unsafe: true, reason: reason} }

func malformedXML(reason string) error { return &xmlParseError{reason: reason} }

var errCharset = errors.New("only UTF-8 documents are accepted")

func rejectCharset(string, io.Reader) (io.Reader, error) { return nil, errCharset }

// parseUntrustedXML turns bytes from the network into an etree document. Its checks run
// cheapest first, each bounded by what the ones before it established:
//
//  1. size: at most lim.maxBytes, valid UTF-8;
//  2. preScan, one streaming pass of encoding/xml's tokenizer (RawToken) that stops at the
//     first limit: tokens, depth, attributes per element, namespace declarations in scope,
//     name lengths; and no DTD or other directive, no processing instruction other than
//     the XML declaration, no non-UTF-8 encoding, one root element, no text outside it, no
//     duplicate attributes (compared after namespace resolution), no namespaced ID
//     attribute;
//  3. the etree parse (encoding/xml's strict Token), which also matches end tags.
//
// The round-trip check (checkRoundTrip) is not among them: at some microseconds per token
// it is the costliest check of all, so callers run it after their own cheaper checks, and
// before they use the document.
func parseUntrustedXML(data []byte, lim xmlLimits) (*etree.Document, error) {
	if err := screenXML(data, lim); err != nil {
		return nil, err
	}
	return parseScreenedXML(data, lim)
}

// screenXML runs the cheap checks of parseUntrustedXML: size, UTF-8, preScan.
func screenXML(data []byte, lim xmlLimits) error {
	if len(data) > lim.maxBytes {
		return unsafeXML("document larger than the size cap")
	}
	if !utf8.Valid(data) {
		return unsafeXML("not valid UTF-8")
	}
	return preScan(data, lim)
}

// parseScreenedXML runs the rest of parseUntrustedXML, the etree parse, on data that passed
// screenXML with the same limits.
func parseScreenedXML(data []byte, lim xmlLimits) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: rejectCharset, MaxDepth: lim.maxDepth + 1}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, &xmlParseError{reason: "XML parse failed", err: err}
	}
	if doc.Root() == nil {
		return nil, malformedXML("no root element")
	}
	return doc, nil
}

// checkRoundTrip refuses, as unsafe, a document that does not survive an encoding/xml
// round trip unchanged (mattermost/xml-roundtrip-validator): such a document could mean one
// thing to the parser that checked it and another to the next. data must have passed
// parseUntrustedXML with the same limits, which bound its cost.
func checkRoundTrip(data []byte, lim xmlLimits) error {
	if lim.beforeRoundTrip != nil {
		lim.beforeRoundTrip()
	}
	if err := roundTrip(data); err != nil {
		return &xmlParseError{unsafe: true, reason: "XML round-trip check failed", err: err}
	}
	return nil
}

// tokenError classifies an error of encoding/xml's tokenizer. The tokenizer is the first
// thing to read the document, so what it refuses (names with two colons, undefined
// entities, illegal characters, a non-UTF-8 encoding) is refused as unsafe, as it was when
// the round-trip validator read the document first.
func tokenError(err error) error {
	if errors.Is(err, errCharset) {
		return &xmlParseError{unsafe: true, reason: "non-UTF-8 encoding declared", err: err}
	}
	return &xmlParseError{unsafe: true, reason: "XML tokenizer refused the document", err: err}
}

// scanState is what preScan counts, and the namespace bindings in scope.
type scanState struct {
	lim      xmlLimits
	tokens   int
	roots    int
	bindings []nsBinding // in scope, innermost last
	marks    []int       // len(bindings) when each open element started
}

// nsBinding is one namespace declaration: prefix ("" for the default namespace) to URI.
type nsBinding struct{ prefix, uri string }

// preScan is the cheap streaming pass: encoding/xml's RawToken neither resolves namespaces
// nor matches end tags, so it costs little per token, and it stops at the first limit. It
// resolves attribute prefixes itself, as Token would, to find duplicate attributes.
func preScan(data []byte, lim xmlLimits) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = rejectCharset
	st := scanState{lim: lim, marks: make([]int, 0, lim.maxDepth)}
	for first := true; ; first = false {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tokenError(err)
		}
		if err := st.count(1); err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			err = st.start(t)
		case xml.EndElement:
			err = st.end(t)
		case xml.CharData:
			if len(st.marks) == 0 && len(bytes.TrimSpace(t)) != 0 {
				err = malformedXML("text outside the root element")
			}
		case xml.Directive:
			err = unsafeXML("DTDs and other directives are not accepted")
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				err = unsafeXML("processing instructions are not accepted")
			}
		}
		if err != nil {
			return err
		}
	}
	switch {
	case st.roots != 1:
		return malformedXML("no root element")
	case len(st.marks) != 0:
		return malformedXML("element not closed")
	}
	return nil
}

func (st *scanState) count(n int) error {
	st.tokens += n
	if st.tokens > st.lim.maxTokens {
		return unsafeXML("too many XML tokens")
	}
	return nil
}

func (st *scanState) start(t xml.StartElement) error {
	if len(st.marks) == 0 {
		if st.roots++; st.roots > 1 {
			return malformedXML("more than one root element")
		}
	}
	if len(st.marks) >= st.lim.maxDepth {
		return unsafeXML("XML nested too deeply")
	}
	if len(t.Attr) > st.lim.maxAttrs {
		return unsafeXML("too many attributes on one element")
	}
	if err := st.count(len(t.Attr)); err != nil {
		return err
	}
	if err := st.checkName(t.Name); err != nil {
		return err
	}
	st.marks = append(st.marks, len(st.bindings))
	for _, a := range t.Attr {
		if err := st.checkName(a.Name); err != nil {
			return err
		}
		switch {
		case a.Name.Space == "xmlns":
			st.bindings = append(st.bindings, nsBinding{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			st.bindings = append(st.bindings, nsBinding{"", a.Value})
		}
	}
	if len(st.bindings) > st.lim.maxNSInScope {
		return unsafeXML("too many namespace declarations in scope")
	}
	return st.checkAttrs(t.Attr)
}

func (st *scanState) end(t xml.EndElement) error {
	if len(st.marks) == 0 {
		return malformedXML("end tag without a start tag")
	}
	if err := st.checkName(t.Name); err != nil {
		return err
	}
	last := len(st.marks) - 1
	st.bindings = st.bindings[:st.marks[last]]
	st.marks = st.marks[:last]
	return nil
}

// checkName bounds a name's length and requires a QName: RawToken splits a name at its
// only colon, so a colon left in either part means a name such as ":a" or "a:" that
// namespace processing would rewrite.
func (st *scanState) checkName(n xml.Name) error {
	if len(n.Space)+len(n.Local) > st.lim.maxNameLen {
		return unsafeXML("name too long")
	}
	if n.Local == "" || strings.ContainsRune(n.Local, ':') || strings.ContainsRune(n.Space, ':') {
		return unsafeXML("name is not a qualified name")
	}
	return nil
}

// checkAttrs refuses a namespaced ID attribute, and two attributes of one element with the
// same name once their prefixes are resolved (a:x and b:x, with a and b bound to the same
// URI, are duplicates).
func (st *scanState) checkAttrs(attrs []xml.Attr) error {
	for i, a := range attrs {
		if a.Name.Local == "ID" && a.Name.Space != "" {
			return unsafeXML("namespaced ID attribute")
		}
		for _, b := range attrs[:i] {
			if a.Name.Local == b.Name.Local && st.attrSpace(a.Name.Space) == st.attrSpace(b.Name.Space) {
				return unsafeXML("duplicate attribute")
			}
		}
	}
	return nil
}

// attrSpace is the namespace of an attribute with prefix, as encoding/xml's Token resolves
// it: none for no prefix, "xmlns" for declarations, the XML namespace for "xml", the bound
// URI otherwise, or the prefix itself when nothing binds it.
func (st *scanState) attrSpace(prefix string) string {
	switch prefix {
	case "", "xmlns":
		return prefix
	case "xml":
		return "http://www.w3.org/XML/1998/namespace"
	}
	for i := len(st.bindings) - 1; i >= 0; i-- {
		if st.bindings[i].prefix == prefix {
			return st.bindings[i].uri
		}
	}
	return prefix
}

// roundTrip is mattermost/xml-roundtrip-validator's Validate, token for token: the
// library's CheckToken on every token of a non-strict RawToken pass. Validate itself reads
// its input one byte at a time through a TeeReader, to report the line and column of a
// failure, which we never show; that doubles its cost per byte.
func roundTrip(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	dec.CharsetReader = func(_ string, input io.Reader) (io.Reader, error) { return input, nil }
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := xrv.CheckToken(tok); err != nil {
			return err
		}
	}
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
