package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/credential"
)

// handshakeTimeout bounds the SSH handshake and authentication of a new connection.
const handshakeTimeout = 15 * time.Second

// server is the SSH edge: public-key authentication by SSH credential, a session that shows
// whose key it is, and remote forwarding (ssh -R) limited by the credential's bind ACL.
type server struct {
	v             *credential.Verifier
	hostKey       ssh.Signer
	log           *slog.Logger
	checkInterval time.Duration
}

// ExtraData keys for what authentication hands over to the connection.
type (
	resultKey struct{}
	pubKeyKey struct{}
)

// serve accepts connections on ln until ctx is done, then closes ln and every connection
// and returns nil once their goroutines are done.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		ln.Close()
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	s.log.Info("ssh edge listening", "addr", ln.Addr().String(),
		"host_key", ssh.FingerprintSHA256(s.hostKey.PublicKey()))
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("sshedge: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("ssh accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		wg.Go(func() { s.handle(ctx, nc) })
	}
}

// config is the SSH server configuration for one connection: public keys only, each checked
// with the Verifier.
func (s *server) config(ctx context.Context, log *slog.Logger) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-iamkit-sshedge",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			res, err := s.v.VerifySSHKey(ctx, key)
			if err != nil {
				log.Info("ssh key refused", "user", meta.User(), "fingerprint", ssh.FingerprintSHA256(key),
					"reason", reasonName(err))
				return nil, fmt.Errorf("sshedge: key refused: %w", err)
			}
			return &ssh.Permissions{ExtraData: map[any]any{resultKey{}: res, pubKeyKey{}: key}}, nil
		},
		// No PasswordCallback, no KeyboardInteractiveCallback: an SSH credential is a key.
	}
	cfg.AddHostKey(s.hostKey)
	return cfg
}

// conn is one authenticated SSH connection.
type conn struct {
	s      *server
	ctx    context.Context // done when the connection ends
	sconn  *ssh.ServerConn
	key    ssh.PublicKey
	result atomic.Pointer[credential.Result] // the latest verification
	log    *slog.Logger

	mu       sync.Mutex
	forwards map[forwardKey]net.Listener
	sessions map[ssh.Channel]bool // open session channels, to tell why the connection closes
	wg       sync.WaitGroup
}

// forwardKey is a remote forward as the client asked for it.
type forwardKey struct {
	addr string
	port uint32
}

func (s *server) handle(ctx context.Context, nc net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() }) // shutdown, or the end of the connection
	defer stop()
	start := time.Now()
	log := s.log.With("remote", nc.RemoteAddr().String())

	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(nc, s.config(ctx, log))
	if err != nil {
		log.Info("ssh connection refused", "err", err, "duration", time.Since(start))
		return
	}
	nc.SetDeadline(time.Time{})
	res := sconn.Permissions.ExtraData[resultKey{}].(credential.Result)
	c := &conn{
		s:        s,
		ctx:      ctx,
		sconn:    sconn,
		key:      sconn.Permissions.ExtraData[pubKeyKey{}].(ssh.PublicKey),
		forwards: make(map[forwardKey]net.Listener),
		sessions: make(map[ssh.Channel]bool),
	}
	c.result.Store(&res)
	c.log = log.With("user", sconn.User(), "credential_id", res.CredentialID, "account_id", res.AccountID,
		"owner_id", res.OwnerID)
	c.log.Info("ssh connection opened", "fingerprint", ssh.FingerprintSHA256(c.key))

	c.wg.Go(func() { c.globalRequests(reqs) })
	c.wg.Go(func() { c.channels(chans) })
	ended := make(chan error, 1)
	go func() { ended <- sconn.Wait() }()

	why := c.watch(ended)
	sconn.Close()
	cancel()
	c.mu.Lock()
	for k, ln := range c.forwards {
		ln.Close()
		delete(c.forwards, k)
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.log.Info("ssh connection closed", "why", why, "duration", time.Since(start))
}

// watch re-verifies the connection's key every check interval until the key goes bad,
// the connection ends or the edge shuts down, and returns why it stopped.
func (c *conn) watch(ended <-chan error) string {
	t := time.NewTicker(c.s.checkInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			c.tellSessions("iamkit sshedge: the edge is shutting down")
			return "shutdown"
		case <-ended:
			return "client disconnected"
		case <-t.C:
		}
		res, err := c.s.v.VerifySSHKey(c.ctx, c.key)
		if err != nil {
			if c.ctx.Err() != nil {
				continue
			}
			code, msg := rejection(err)
			c.tellSessions(fmt.Sprintf("iamkit sshedge: closing: %s: %s", code, msg))
			return reasonName(err)
		}
		c.result.Store(&res)
		c.dropForwardsNotAllowed(res.ACL)
	}
}

// tellSessions writes a line to the stderr of every open session channel.
func (c *conn) tellSessions(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch, pty := range c.sessions {
		io.WriteString(ch.Stderr(), msg+newline(pty))
	}
}

func (c *conn) globalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		switch req.Type {
		case "tcpip-forward":
			c.forward(req)
		case "cancel-tcpip-forward":
			c.cancelForward(req)
		default:
			// keepalive@openssh.com and the like: a false reply is what OpenSSH expects.
			req.Reply(false, nil)
		}
	}
}

// forwardRequest is the payload of tcpip-forward and cancel-tcpip-forward (RFC 4254 §7.1).
type forwardRequest struct {
	Addr string
	Port uint32
}

// forward answers a tcpip-forward request: granted, with a listener on the address, only if
// the credential's ACL allows binding host:port.
func (c *conn) forward(req *ssh.Request) {
	var p forwardRequest
	if err := ssh.Unmarshal(req.Payload, &p); err != nil {
		req.Reply(false, nil)
		return
	}
	target := net.JoinHostPort(p.Addr, strconv.FormatUint(uint64(p.Port), 10))
	log := c.log.With("bind", target)
	res := c.result.Load()
	// A restricted ACL names its ports; port 0 (any free port) needs an unrestricted one.
	if !res.ACL.AllowsBind(target) || (p.Port == 0 && !res.ACL.Unrestricted()) {
		log.Info("ssh forward refused", "error_code", "ERR_NGROK_308")
		req.Reply(false, nil)
		return
	}
	ln, err := net.Listen("tcp", target)
	if err != nil {
		log.Info("ssh forward failed", "err", err)
		req.Reply(false, nil)
		return
	}
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	key := forwardKey{p.Addr, port}
	c.mu.Lock()
	if _, dup := c.forwards[key]; dup || c.ctx.Err() != nil {
		c.mu.Unlock()
		ln.Close()
		req.Reply(false, nil)
		return
	}
	c.forwards[key] = ln
	c.mu.Unlock()

	var reply []byte
	if p.Port == 0 {
		reply = ssh.Marshal(struct{ Port uint32 }{port})
	}
	req.Reply(true, reply)
	log.Info("ssh forward granted", "listening", ln.Addr().String())
	c.wg.Go(func() { c.acceptForwarded(ln, key) })
}

func (c *conn) cancelForward(req *ssh.Request) {
	var p forwardRequest
	if err := ssh.Unmarshal(req.Payload, &p); err != nil {
		req.Reply(false, nil)
		return
	}
	key := forwardKey{p.Addr, p.Port}
	c.mu.Lock()
	ln, ok := c.forwards[key]
	delete(c.forwards, key)
	c.mu.Unlock()
	if ok {
		ln.Close()
	}
	req.Reply(ok, nil)
}

// dropForwardsNotAllowed closes the forwards the ACL no longer allows.
func (c *conn) dropForwardsNotAllowed(acl credential.ACL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ln := range c.forwards {
		target := net.JoinHostPort(k.addr, strconv.FormatUint(uint64(k.port), 10))
		if !acl.AllowsBind(target) {
			c.log.Info("ssh forward closed: the ACL no longer allows it", "bind", target)
			ln.Close()
			delete(c.forwards, k)
		}
	}
}

// forwardedTCPIP is the payload of a forwarded-tcpip channel (RFC 4254 §7.2).
type forwardedTCPIP struct {
	Addr       string
	Port       uint32
	OriginAddr string
	OriginPort uint32
}

// acceptForwarded carries each connection to a forward's listener over a forwarded-tcpip
// channel to the client, until the listener is closed.
func (c *conn) acceptForwarded(ln net.Listener, key forwardKey) {
	for {
		rc, err := ln.Accept()
		if err != nil {
			return
		}
		c.wg.Go(func() {
			defer rc.Close()
			origin, _ := rc.RemoteAddr().(*net.TCPAddr)
			p := forwardedTCPIP{Addr: key.addr, Port: key.port}
			if origin != nil {
				p.OriginAddr, p.OriginPort = origin.IP.String(), uint32(origin.Port)
			}
			ch, reqs, err := c.sconn.OpenChannel("forwarded-tcpip", ssh.Marshal(p))
			if err != nil {
				c.log.Info("ssh forwarded connection refused by the client", "err", err)
				return
			}
			go ssh.DiscardRequests(reqs)
			proxy(c.ctx, rc, ch)
		})
	}
}

// proxy copies between a TCP connection and a channel until both directions are done or ctx
// ends, then closes both.
func proxy(ctx context.Context, tc net.Conn, ch ssh.Channel) {
	stop := context.AfterFunc(ctx, func() { tc.Close(); ch.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(ch, tc)
		ch.CloseWrite()
	})
	wg.Go(func() {
		io.Copy(tc, ch)
		if hc, ok := tc.(interface{ CloseWrite() error }); ok {
			hc.CloseWrite()
		}
	})
	wg.Wait()
	tc.Close()
	ch.Close()
}

func (c *conn) channels(chans <-chan ssh.NewChannel) {
	for nch := range chans {
		if nch.ChannelType() != "session" {
			// direct-tcpip (ssh -L) and the rest: this edge only forwards inbound.
			nch.Reject(ssh.Prohibited, "only session channels and remote forwarding are allowed")
			continue
		}
		ch, reqs, err := nch.Accept()
		if err != nil {
			continue
		}
		c.wg.Go(func() { c.session(ch, reqs) })
	}
}

// session serves a session channel: exec prints the connection's identity and exits; a shell
// prints it and stays open (forwards keep working) until the client ends it: EOF, or Ctrl-C /
// Ctrl-D on a terminal.
func (c *conn) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	pty := false
	for {
		var req *ssh.Request
		select {
		case req = <-reqs:
		case <-c.ctx.Done():
			return
		}
		if req == nil {
			return
		}
		switch req.Type {
		case "pty-req":
			pty = true
			req.Reply(true, nil)
		case "exec", "shell":
			req.Reply(true, nil)
			io.WriteString(ch, c.banner(pty))
			if req.Type == "shell" {
				c.mu.Lock()
				c.sessions[ch] = pty
				c.mu.Unlock()
				go ssh.DiscardRequests(reqs) // window-change and the like
				waitForHangUp(c.ctx, ch)
				c.mu.Lock()
				delete(c.sessions, ch)
				c.mu.Unlock()
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			ch.CloseWrite()
			return
		default: // env, subsystem, x11-req, ...
			req.Reply(false, nil)
		}
	}
}

// waitForHangUp returns when the client sends EOF or Ctrl-C / Ctrl-D, or ctx is done.
func waitForHangUp(ctx context.Context, ch ssh.Channel) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256)
		for {
			n, err := ch.Read(buf)
			if strings.ContainsAny(string(buf[:n]), "\x03\x04") || err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// banner says whose key authenticated the connection and what it may forward.
func (c *conn) banner(pty bool) string {
	res := c.result.Load()
	acl := "(none: any address)"
	if !res.ACL.Unrestricted() {
		acl = strings.Join(res.ACL.Rules(), " ")
	}
	nl := newline(pty)
	var b strings.Builder
	b.WriteString("iamkit sshedge: authenticated by SSH credential" + nl)
	fmt.Fprintf(&b, "  owner:       %s%s", res.OwnerID, nl)
	fmt.Fprintf(&b, "  account:     %s%s", res.AccountID, nl)
	fmt.Fprintf(&b, "  credential:  %s%s", res.CredentialID, nl)
	fmt.Fprintf(&b, "  fingerprint: %s%s", ssh.FingerprintSHA256(c.key), nl)
	fmt.Fprintf(&b, "  acl:         %s%s", acl, nl)
	b.WriteString("Remote forwards (ssh -R host:port:...) are accepted for the addresses the ACL allows." + nl)
	return b.String()
}

func newline(pty bool) string {
	if pty {
		return "\r\n"
	}
	return "\n"
}

// rejection maps a Verifier rejection to ngrok's code for it (as the tunnel edge does) and a
// short message.
func rejection(err error) (code, msg string) {
	var r credential.Reason
	if !errors.As(err, &r) {
		return "ERR_IAMKIT_UNAVAILABLE", "the credential could not be verified"
	}
	switch r {
	case credential.ReasonUnknown, credential.ReasonExpired:
		return "ERR_NGROK_107", "the SSH credential is no longer valid (" + r.String() + ")"
	case credential.ReasonRevoked:
		return "ERR_NGROK_300", "the SSH credential has been revoked"
	case credential.ReasonOwnerInactive:
		return "ERR_NGROK_636", "the credential owner is marked as inactive on the account"
	default:
		return "ERR_IAMKIT_UNAVAILABLE", "the credential could not be verified (" + r.String() + ")"
	}
}

func reasonName(err error) string {
	var r credential.Reason
	if errors.As(err, &r) {
		return r.String()
	}
	return "error"
}
