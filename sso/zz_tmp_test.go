package sso

import (
	"encoding/xml"
	"testing"

	xrv "github.com/mattermost/xml-roundtrip-validator"
)

func BenchmarkTmpCheckToken(b *testing.B) {
	toks := []xml.Token{
		xml.StartElement{Name: xml.Name{Space: "saml2", Local: "AttributeValue"}, Attr: []xml.Attr{{Name: xml.Name{Space: "xmlns", Local: "xs"}, Value: "http://www.w3.org/2001/XMLSchema"}, {Name: xml.Name{Space: "xsi", Local: "type"}, Value: "xs:string"}}},
		xml.CharData("8c1e6a43-aaaa-bbbb-cccc-123456789012"),
		xml.EndElement{Name: xml.Name{Space: "saml2", Local: "AttributeValue"}},
		xml.CharData("\n   "),
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range toks {
			if err := xrv.CheckToken(t); err != nil {
				b.Fatal(err)
			}
		}
	}
}
