package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ErrInvalidRecord is matched by the errors of SetTXT for a name that is not a domain name or
// a record set too large for a DNS message.
var ErrInvalidRecord = errors.New("dnstest: invalid record")

// maxRecordSetLen bounds the bytes of one name's TXT values, so that the answer fits in one
// DNS message over TCP (65535 bytes) with room for the question and the record headers.
const maxRecordSetLen = 60000

// startTimeout bounds how long the UDP and TCP listeners may take to start serving.
const startTimeout = 10 * time.Second

// Server is a DNS server on 127.0.0.1 answering TXT queries from the records a test sets. Its
// methods are safe for concurrent use.
type Server struct {
	// Addr is the host:port the server listens on, over both UDP and TCP.
	Addr string

	mu      sync.Mutex
	txt     map[string][]string // by canonical name: lower case, with the trailing dot
	udpN    int
	tcpN    int
	servers []*dns.Server
}

// Start returns a server for t, closed when t ends. It fails t when no server can start.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch is Start for callers without a testing.TB, such as TestMain. The caller must Close
// the server.
func Launch() (*Server, error) {
	s := &Server{txt: map[string][]string{}}
	var err error
	for range 20 { // the TCP port may be taken by another program; try another pair
		var udp net.PacketConn
		var tcp net.Listener
		udp, tcp, err = listenPair()
		if err != nil {
			continue
		}
		s.Addr = udp.LocalAddr().String()
		if err = s.serve(udp, tcp); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("dnstest: no free UDP and TCP port pair on 127.0.0.1: %w", err)
}

// listenPair listens on a free UDP port of 127.0.0.1 and on the same TCP port.
func listenPair() (net.PacketConn, net.Listener, error) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	tcp, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		udp.Close()
		return nil, nil, err
	}
	return udp, tcp, nil
}

// serve starts one miekg/dns server per transport and waits until both serve.
func (s *Server) serve(udp net.PacketConn, tcp net.Listener) error {
	started := make(chan struct{}, 2)
	failed := make(chan error, 2)
	notify := func() { started <- struct{}{} }
	s.servers = []*dns.Server{
		{PacketConn: udp, Handler: s, NotifyStartedFunc: notify},
		{Listener: tcp, Handler: s, NotifyStartedFunc: notify},
	}
	for _, srv := range s.servers {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
			}
		}()
	}
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	for range s.servers {
		select {
		case <-started:
		case err := <-failed:
			return fmt.Errorf("dnstest: serving on %s: %w", s.Addr, err)
		case <-timeout.C:
			return fmt.Errorf("dnstest: the server on %s did not start within %v", s.Addr, startTimeout)
		}
	}
	return nil
}

// Close stops the server and waits for it, closing its sockets.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.ShutdownContext(ctx)
	}
}

// SetTXT replaces the TXT records of name with one record per value; with no values the
// name no longer exists (queries for it get NXDOMAIN). The change is seen by the next query.
// It fails, matching ErrInvalidRecord, when name is not a domain name or the values add up
// to more than 60000 bytes.
func (s *Server) SetTXT(name string, values ...string) error {
	key, err := canonical(name)
	if err != nil {
		return err
	}
	if err := checkRecordSet(values); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidRecord, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) == 0 {
		delete(s.txt, key)
		return nil
	}
	s.txt[key] = append([]string(nil), values...)
	return nil
}

// TXT returns the TXT values SetTXT last gave name, nil when it has none.
func (s *Server) TXT(name string) []string {
	key, err := canonical(name)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.txt[key]...)
}

// Queries returns how many queries the server answered over UDP and over TCP.
func (s *Server) Queries() (udp, tcp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpN, s.tcpN
}

// Resolver returns a resolver that sends every query to the server: over UDP first and over
// TCP when an answer comes back truncated, as Go's stub resolver does with the system's
// name servers. The host's search domains (/etc/resolv.conf) still apply to names with
// fewer dots than its ndots option, so tests should name domains in full.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: s.dial(false)}
}

// TCPResolver is Resolver over TCP only: every query goes over a TCP connection.
func (s *Server) TCPResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: s.dial(true)}
}

// dial ignores the address Go's resolver took from resolv.conf and dials the server instead,
// over the network the resolver asks for, or over TCP when tcpOnly (a stream connection makes
// the resolver use TCP framing whatever network it asked for).
func (s *Server) dial(tcpOnly bool) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		if tcpOnly {
			network = "tcp"
		}
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr)
	}
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	tcp := w.LocalAddr().Network() == "tcp"
	reply := s.answer(req, tcp)
	if !tcp {
		reply.Truncate(udpSize(req))
	}
	_ = w.WriteMsg(reply)
}

// answer builds the reply to req and counts it.
func (s *Server) answer(req *dns.Msg, tcp bool) *dns.Msg {
	reply := new(dns.Msg)
	reply.SetReply(req)
	reply.Authoritative = true
	if opt := req.IsEdns0(); opt != nil {
		reply.SetEdns0(opt.UDPSize(), false)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tcp {
		s.tcpN++
	} else {
		s.udpN++
	}
	if req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		reply.Rcode = dns.RcodeNotImplemented
		return reply
	}
	q := req.Question[0]
	values, ok := s.txt[strings.ToLower(q.Name)]
	switch {
	case !ok:
		reply.Rcode = dns.RcodeNameError
	case q.Qtype == dns.TypeTXT || q.Qtype == dns.TypeANY:
		for _, v := range values {
			reply.Answer = append(reply.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 0},
				Txt: chunks(v),
			})
		}
	}
	return reply
}

// udpSize is the largest UDP answer the client of req takes.
func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > dns.MinMsgSize {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// chunks splits a TXT value into the character strings of one record (at most 255 bytes
// each). miekg/dns reads a backslash in TXT data as the start of an escape (\DDD), so a
// backslash is sent escaped; every other byte goes as it is.
func chunks(v string) []string {
	var out []string
	for {
		n := min(len(v), 255)
		out = append(out, strings.ReplaceAll(v[:n], `\`, `\\`))
		v = v[n:]
		if v == "" {
			return out
		}
	}
}

// canonical returns name as the server keys it, or an error matching ErrInvalidRecord.
func canonical(name string) (string, error) {
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok || name == "" || name == "." {
		return "", fmt.Errorf("%w: name %q is not a domain name", ErrInvalidRecord, name)
	}
	return strings.ToLower(fqdn), nil
}

// checkRecordSet refuses a record set too large to answer in one message.
func checkRecordSet(values []string) error {
	total := 0
	for _, v := range values {
		total += len(v) + len(v)/255 + 1 // the bytes and one length byte per character string
	}
	if total > maxRecordSetLen {
		return fmt.Errorf("the values take %d bytes, more than the limit of %d", total, maxRecordSetLen)
	}
	return nil
}
