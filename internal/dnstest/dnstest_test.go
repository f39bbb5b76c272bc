package dnstest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// resolvers are the two ways a test reaches the server.
func resolvers(s *Server) map[string]*net.Resolver {
	return map[string]*net.Resolver{"udp": s.Resolver(), "tcp": s.TCPResolver()}
}

func lookup(t *testing.T, r *net.Resolver, name string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return r.LookupTXT(ctx, name)
}

func mustSet(t *testing.T, s *Server, name string, values ...string) {
	t.Helper()
	if err := s.SetTXT(name, values...); err != nil {
		t.Fatalf("SetTXT(%q): %v", name, err)
	}
}

func TestLookupTXT(t *testing.T) {
	s := Start(t)
	long := strings.Repeat("0123456789", 70) // 700 bytes: three character strings
	tests := []struct {
		name   string
		set    string
		values []string
		lookup string
	}{
		{"one value", "_iamkit-challenge.example.com", []string{"iamkit-verify=abc123"}, "_iamkit-challenge.example.com"},
		{"several values", "multi.example.com", []string{"v=spf1 -all", "iamkit-verify=x", "other"}, "multi.example.com"},
		{"lookup in another case, absolute", "case.example.com", []string{"Mixed Case Value"}, "CASE.Example.COM."},
		{"set absolute, look up relative", "abs.example.com.", []string{"a"}, "abs.example.com"},
		{"quotes, backslashes and UTF-8", "bytes.example.com", []string{`say "hi" \ back\slash é ü 🚀`}, "bytes.example.com"},
		{"longer than one character string", "long.example.com", []string{long}, "long.example.com"},
		{"an empty value", "empty.example.com", []string{""}, "empty.example.com"},
	}
	for _, tt := range tests {
		mustSet(t, s, tt.set, tt.values...)
		for network, r := range resolvers(s) {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				got, err := lookup(t, r, tt.lookup)
				if err != nil {
					t.Fatalf("LookupTXT(%q): %v", tt.lookup, err)
				}
				if !slices.Equal(got, tt.values) {
					t.Errorf("LookupTXT(%q) = %q, want %q", tt.lookup, got, tt.values)
				}
			})
		}
	}
}

// TestChangeDuringTest sets a record, changes it and removes it, and each lookup sees the
// state of the moment.
func TestChangeDuringTest(t *testing.T) {
	s := Start(t)
	const name = "_iamkit-challenge.corp.example.org"
	for network, r := range resolvers(s) {
		t.Run(network, func(t *testing.T) {
			steps := []struct {
				set  []string
				want []string
			}{
				{[]string{"iamkit-verify=first"}, []string{"iamkit-verify=first"}},
				{[]string{"iamkit-verify=second", "unrelated"}, []string{"iamkit-verify=second", "unrelated"}},
				{nil, nil},
				{[]string{"iamkit-verify=third"}, []string{"iamkit-verify=third"}},
			}
			for i, st := range steps {
				mustSet(t, s, name, st.set...)
				if got := s.TXT(name); !slices.Equal(got, st.set) {
					t.Errorf("step %d: TXT = %q, want %q", i, got, st.set)
				}
				got, err := lookup(t, r, name)
				if st.want == nil {
					if !isNotFound(err) {
						t.Fatalf("step %d: after removal LookupTXT = %q, %v; want a not-found error", i, got, err)
					}
					continue
				}
				if err != nil || !slices.Equal(got, st.want) {
					t.Fatalf("step %d: LookupTXT = %q, %v; want %q", i, got, err, st.want)
				}
			}
		})
	}
}

// TestUnknownName checks the answers for names without records, with the rcode read off the
// wire as well as through net.Resolver.
func TestUnknownName(t *testing.T) {
	s := Start(t)
	mustSet(t, s, "a.b.example.net", "x")
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		wantRcode int
		wantN     int
	}{
		{"unknown name", "nobody.example.net.", dns.TypeTXT, dns.RcodeNameError, 0},
		{"parent of a name with records", "b.example.net.", dns.TypeTXT, dns.RcodeNameError, 0},
		{"known name, other type", "a.b.example.net.", dns.TypeA, dns.RcodeSuccess, 0},
		{"known name, TXT", "a.b.example.net.", dns.TypeTXT, dns.RcodeSuccess, 1},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				c := &dns.Client{Net: network, Timeout: 5 * time.Second}
				m := new(dns.Msg).SetQuestion(tt.qname, tt.qtype)
				in, _, err := c.ExchangeContext(t.Context(), m, s.Addr)
				if err != nil {
					t.Fatal(err)
				}
				if in.Rcode != tt.wantRcode || len(in.Answer) != tt.wantN || !in.Authoritative {
					t.Errorf("rcode %s, %d answers, authoritative %v; want %s, %d, true",
						dns.RcodeToString[in.Rcode], len(in.Answer), in.Authoritative, dns.RcodeToString[tt.wantRcode], tt.wantN)
				}
			})
		}
	}
	for network, r := range resolvers(s) {
		t.Run("net.Resolver/"+network, func(t *testing.T) {
			got, err := lookup(t, r, "nobody.example.net.")
			if !isNotFound(err) {
				t.Errorf("LookupTXT(unknown) = %q, %v; want a DNSError with IsNotFound", got, err)
			}
		})
	}
}

// TestTruncatedAnswerRetriesOverTCP gives a name more TXT data than Go's resolver takes over
// UDP (1232 bytes): the server truncates, the resolver asks again over TCP and gets it all.
func TestTruncatedAnswerRetriesOverTCP(t *testing.T) {
	s := Start(t)
	values := []string{strings.Repeat("a", 900), strings.Repeat("b", 900)}
	mustSet(t, s, "big.example.com", values...)
	udp0, tcp0 := s.Queries()
	got, err := lookup(t, s.Resolver(), "big.example.com.")
	if err != nil || !slices.Equal(got, values) {
		t.Fatalf("LookupTXT = %d values, %v; want the two 900-byte values", len(got), err)
	}
	udp1, tcp1 := s.Queries()
	if udp1 == udp0 || tcp1 == tcp0 {
		t.Errorf("queries: udp %d -> %d, tcp %d -> %d; want both to grow (UDP truncated, then TCP)", udp0, udp1, tcp0, tcp1)
	}

	// A small answer stays on UDP.
	mustSet(t, s, "small.example.com", "s")
	if _, err := lookup(t, s.Resolver(), "small.example.com."); err != nil {
		t.Fatal(err)
	}
	if _, tcp2 := s.Queries(); tcp2 != tcp1 {
		t.Errorf("a small answer went over TCP (%d -> %d TCP queries)", tcp1, tcp2)
	}
}

func TestSetTXTRefuses(t *testing.T) {
	s := Start(t)
	tests := []struct {
		name   string
		qname  string
		values []string
	}{
		{"empty name", "", []string{"x"}},
		{"root", ".", []string{"x"}},
		{"empty label", "a..example.com", []string{"x"}},
		{"label longer than 63 bytes", strings.Repeat("l", 64) + ".example.com", []string{"x"}},
		{"record set too large", "huge.example.com", []string{strings.Repeat("x", maxRecordSetLen)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SetTXT(tt.qname, tt.values...); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("SetTXT(%.20q) = %v, want ErrInvalidRecord", tt.qname, err)
			}
		})
	}
}

// TestClose checks that a closed server no longer answers.
func TestClose(t *testing.T) {
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "x.example.com", "x")
	if _, err := lookup(t, s.TCPResolver(), "x.example.com."); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, err := lookup(t, s.TCPResolver(), "x.example.com."); err == nil {
		t.Fatalf("after Close, LookupTXT = %q", got)
	}
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
