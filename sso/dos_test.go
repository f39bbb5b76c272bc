package sso

import (
	"bytes"
	"compress/flate"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/iamkit/iamkit/store"
)

// hostileInput is a SAMLResponse form value built to cost as much as possible within a
// Validator's size caps, and the sentinel it must be refused with.
type hostileInput struct {
	name string
	form func(t testing.TB, f *fixture) string
	want string
}

// xmlBudget is the largest XML document the fixture's Validator takes from a form value.
func (f *fixture) xmlBudget() int { return min(f.v.maxXMLSize, f.v.maxResponseSize/4*3) }

// fill returns head, then unit repeated, then tail, as long as possible within size bytes.
func fill(head, unit, tail string, size int) []byte {
	n := max(0, (size-len(head)-len(tail))/len(unit))
	return []byte(head + strings.Repeat(unit, n) + tail)
}

// deflateBomb is the old amplification: 16 MiB of "<" deflated to a few KiB.
func deflateBomb(t testing.TB) []byte {
	t.Helper()
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	chunk := bytes.Repeat([]byte("<"), 1<<20)
	for range 16 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

const responseHead = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2027-03-01T12:00:00Z">`

// hostileInputs are refused by the cheap checks: the size caps, the refusal of DEFLATE and
// the streaming pre-scan. None may reach the round-trip validator.
func hostileInputs() []hostileInput {
	return []hostileInput{
		{"FormValueOverCap", func(t testing.TB, f *fixture) string {
			return strings.Repeat("A", f.v.maxResponseSize+4)
		}, CodeResponseTooLarge},
		{"DeflateBomb", func(t testing.TB, f *fixture) string { return b64(deflateBomb(t)) }, CodeMalformedResponse},
		// What the 3.4 KB POSTs inflated to under the old 256 KiB cap: 36,800 levels
		// of nesting, or 60,000 tokens, for the round-trip validator to walk.
		{"DeflateToDeepNesting", func(t testing.TB, f *fixture) string {
			return b64(deflate(t, fill(responseHead, "<a>", "", 256<<10-1)))
		}, CodeMalformedResponse},
		{"DeflateToManyTokens", func(t testing.TB, f *fixture) string {
			return b64(deflate(t, fill(responseHead, "<a/>", "</samlp:Response>", 256<<10-1)))
		}, CodeMalformedResponse},
		{"DeflatedSignedResponse", func(t testing.TB, f *fixture) string {
			return b64(deflate(t, readFixture(t, "response-assertion-signed.xml")))
		}, CodeMalformedResponse},
		{"NotBase64", func(t testing.TB, f *fixture) string { return strings.Repeat("%", f.xmlBudget()) }, CodeMalformedResponse},
		{"DeepNesting", func(t testing.TB, f *fixture) string {
			return b64(fill(responseHead, "<a>", "", f.xmlBudget()))
		}, CodeUnsafeXML},
		{"DeepNestingClosed", func(t testing.TB, f *fixture) string {
			n := f.xmlBudget() / 8
			return b64([]byte(responseHead + strings.Repeat("<a>", n/2) + strings.Repeat("</a>", n/2) + "</samlp:Response>"))
		}, CodeUnsafeXML},
		{"ManyTokens", func(t testing.TB, f *fixture) string {
			return b64(fill(responseHead, "<a/>", "</samlp:Response>", f.xmlBudget()))
		}, CodeUnsafeXML},
		{"ManyAttributeValues", func(t testing.TB, f *fixture) string {
			return b64(fill(responseHead+`<saml:Assertion><saml:AttributeStatement><saml:Attribute Name="groups">`,
				`<saml:AttributeValue>g</saml:AttributeValue>`,
				`</saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>`, f.xmlBudget()))
		}, CodeUnsafeXML},
		{"ManyAttributesOnOneElement", func(t testing.TB, f *fixture) string {
			var b strings.Builder
			b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`)
			for i := 0; b.Len() < f.xmlBudget()-32; i++ {
				b.WriteString(" a" + strconv.Itoa(i) + `=""`)
			}
			b.WriteString("/>")
			return b64([]byte(b.String()))
		}, CodeUnsafeXML},
		{"ManyAttributesOnManyElements", func(t testing.TB, f *fixture) string {
			el := "<a"
			for i := range 16 {
				el += " b" + strconv.Itoa(i) + `=""`
			}
			return b64(fill(responseHead, el+"/>", "</samlp:Response>", f.xmlBudget()))
		}, CodeUnsafeXML},
		{"NamespaceDeclarationsInScope", func(t testing.TB, f *fixture) string {
			// Each level declares a few prefixes: few attributes per element, but every
			// element below has them all in scope.
			var b strings.Builder
			b.WriteString(responseHead)
			for i := 0; b.Len() < f.xmlBudget()-256; i++ {
				b.WriteString("<a")
				for j := range 4 {
					b.WriteString(" xmlns:p" + strconv.Itoa(i) + "x" + strconv.Itoa(j) + `="urn:x"`)
				}
				b.WriteString(">")
			}
			return b64([]byte(b.String()))
		}, CodeUnsafeXML},
		{"LongElementName", func(t testing.TB, f *fixture) string {
			return b64(fill(responseHead+"<saml:", "a", "/></samlp:Response>", f.xmlBudget()))
		}, CodeUnsafeXML},
		{"LongAttributeName", func(t testing.TB, f *fixture) string {
			return b64(fill(responseHead+"<a ", "b", `=""/></samlp:Response>`, f.xmlBudget()))
		}, CodeUnsafeXML},
		{"BillionLaughs", func(t testing.TB, f *fixture) string {
			return b64([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>` +
				responseHead + "&c;</samlp:Response>"))
		}, CodeUnsafeXML},
	}
}

// TestCheapChecksFirst: inputs built to be expensive are refused by the cheap checks,
// with the right sentinel, before the round-trip validator (the costliest step, per token)
// ever sees them: the size caps, the refusal of DEFLATE and the pre-scan refuse those
// beyond a limit, and the signature check those within every limit. It counts what
// reaches the validator rather than timing anything; the time is in
// BenchmarkRejectWorstCase.
func TestCheapChecksFirst(t *testing.T) {
	t.Parallel()
	for _, in := range append(hostileInputs(), withinLimits()...) {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			var roundTrips atomic.Int64
			f.v.lim.beforeRoundTrip = func() { roundTrips.Add(1) }
			a, err := f.validate(in.form(t, f))
			wantKind(t, a, err, in.want)
			if n := roundTrips.Load(); n != 0 {
				t.Fatalf("refused (%v), but only after the round-trip validator ran %d times", err, n)
			}
		})
	}
	// The counter counts: a real response does reach the round-trip validator, once.
	t.Run("RealResponseReachesRoundTrip", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.trackID(fixtureRequestID)
		var roundTrips atomic.Int64
		f.v.lim.beforeRoundTrip = func() { roundTrips.Add(1) }
		if _, err := f.validate(b64(readFixture(t, "response-both-signed.xml"))); err != nil {
			t.Fatal(err)
		}
		if n := roundTrips.Load(); n != 1 {
			t.Fatalf("round-trip validator ran %d times, want 1", n)
		}
	})
}

// padded inserts extra into the AttributeStatement of a committed, signed response: the
// Assertion signature's SignedInfo still verifies, so the validator goes as far as
// canonicalizing and digesting the whole (now larger) Assertion before refusing it.
func padded(t testing.TB, extra string) []byte {
	t.Helper()
	x := readFixture(t, "response-assertion-signed.xml")
	const at = "</saml:AttributeStatement>"
	if !bytes.Contains(x, []byte(at)) {
		t.Fatalf("fixture has no %s", at)
	}
	return bytes.Replace(x, []byte(at), []byte(extra+at), 1)
}

// withinLimits are the costliest inputs that pass every limit of the pre-scan, and so get
// the etree parse and signature verification before they are refused.
func withinLimits() []hostileInput {
	return []hostileInput{
		{"WithinLimitsMaxTokens", func(t testing.TB, f *fixture) string {
			base := 200 // tokens of the fixture, and then some
			n := (f.v.lim.maxTokens - base) / 3
			var b strings.Builder
			b.WriteString(`<saml:Attribute Name="groups">`)
			for i := range n - 1 {
				b.WriteString("<saml:AttributeValue>group-" + strconv.Itoa(i) + "</saml:AttributeValue>")
			}
			b.WriteString(`</saml:Attribute>`)
			return b64(padded(t, b.String()))
		}, CodeSignature},
		{"WithinLimitsHugeText", func(t testing.TB, f *fixture) string {
			base := len(readFixture(t, "response-assertion-signed.xml")) + 256
			n := (f.xmlBudget() - base) / 4 * 4
			return b64(padded(t, `<saml:Attribute Name="blob"><saml:AttributeValue>`+strings.Repeat("QUJD", n/4)+`</saml:AttributeValue></saml:Attribute>`))
		}, CodeSignature},
		{"WithinLimitsMaxTokensAndSize", func(t testing.TB, f *fixture) string {
			// As many tokens as allowed, as cheap in bytes as they come, then the rest of
			// the size cap in one text.
			var b strings.Builder
			b.WriteString(`<saml:Attribute Name="both"><saml:AttributeValue>`)
			for range (f.v.lim.maxTokens - 210) / 2 {
				b.WriteString("<a/>")
			}
			b.WriteString("</saml:AttributeValue><saml:AttributeValue>")
			base := len(readFixture(t, "response-assertion-signed.xml")) + b.Len() + 256
			b.WriteString(strings.Repeat("QUJD", (f.xmlBudget()-base)/4))
			b.WriteString(`</saml:AttributeValue></saml:Attribute>`)
			return b64(padded(t, b.String()))
		}, CodeSignature},
		{"WithinLimitsDeepAndWide", func(t testing.TB, f *fixture) string {
			// A chain as deep as allowed, each element with as many attributes as allowed,
			// then leaves whose prefix is declared at the root: every namespace lookup
			// walks the whole chain.
			lim := f.v.lim
			depth := lim.maxDepth - 6
			tokens := 200
			var b strings.Builder
			b.WriteString(`<saml:Attribute Name="deep">`)
			for d := range depth {
				b.WriteString("<saml:e" + strconv.Itoa(d))
				for a := range lim.maxAttrs {
					b.WriteString(" a" + strconv.Itoa(a) + `="v"`)
				}
				b.WriteString(">")
				tokens += 2 + lim.maxAttrs
			}
			for ; tokens+2 < lim.maxTokens; tokens += 2 {
				b.WriteString("<saml:l/>")
			}
			for d := depth - 1; d >= 0; d-- {
				b.WriteString("</saml:e" + strconv.Itoa(d) + ">")
			}
			b.WriteString(`</saml:Attribute>`)
			return b64(padded(t, b.String()))
		}, CodeSignature},
	}
}

// signedMaxTokens is a response the IdP signed (with xmlsec1), carrying as many group
// values as the token limit allows: the costliest response that passes every check, and
// so the costliest replay.
func signedMaxTokens(t testing.TB, f *fixture) string {
	t.Helper()
	s := f.spec()
	groups := attrSpec{Name: "memberOf"}
	for n := 0; ; n++ {
		groups.Values = append(groups.Values, "group-"+strconv.Itoa(n))
		s.Attrs = []attrSpec{groups}
		lim := f.v.lim
		lim.maxTokens -= 16 // what signing adds: digest, signature value, certificate
		if preScan(s.unsignedXML(t), lim) != nil {
			groups.Values = groups.Values[:n]
			s.Attrs = []attrSpec{groups}
			return b64(s.signedXML(t))
		}
	}
}

// BenchmarkRejectWorstCase measures what one hostile POST costs before it is refused: each
// input is the costliest of its kind within the default limits. cpu-ns/op is the process's
// CPU time per refusal (garbage collection included), which other work on the machine does
// not inflate as it does the wall time of ns/op. The figures are in BENCHMARKS.md.
func BenchmarkRejectWorstCase(b *testing.B) {
	f := newFixture(b)
	type input struct {
		name string
		form string
		want string
	}
	var inputs []input
	for _, in := range append(hostileInputs(), withinLimits()...) {
		inputs = append(inputs, input{in.name, in.form(b, f), in.want})
	}
	replay := signedMaxTokens(b, f)
	if _, err := f.validate(replay); err != nil {
		b.Fatalf("the signed maximal response is refused: %v", err)
	}
	inputs = append(inputs, input{"ReplayedSignedMaxTokens", replay, CodeReplay})
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.form)))
			cpu := processCPU()
			for b.Loop() {
				if _, err := f.validate(in.form); store.CodeOf(err) != in.want {
					b.Fatalf("error %v, want %v", err, in.want)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
