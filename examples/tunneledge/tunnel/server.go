package tunnel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/iamkit/iamkit/credential"
)

// Defaults for the Server's options.
const (
	DefaultCheckInterval    = 200 * time.Millisecond
	DefaultHandshakeTimeout = 10 * time.Second
)

// writeTimeout bounds every write to an agent, so that one that stops reading cannot hold a
// session (or shutdown) up.
const writeTimeout = 5 * time.Second

// Server is a tunnel edge. Make one with New and start it with Serve.
type Server struct {
	v                *credential.Verifier
	log              *slog.Logger
	checkInterval    time.Duration
	handshakeTimeout time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets where the Server logs sessions (default: nowhere). Nothing secret is logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithCheckInterval sets how often an open session's credential is verified again
// (default DefaultCheckInterval). A session is closed at most this long, plus the verifier's
// change-feed delay, after its credential is revoked or its owner deactivated.
func WithCheckInterval(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.checkInterval = d
		}
	}
}

// WithHandshakeTimeout sets how long an agent has to send its request line after it connects
// (default DefaultHandshakeTimeout).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.handshakeTimeout = d
		}
	}
}

// New returns a Server that authenticates agents with v (credential.Verifier.VerifyAgent:
// authtokens, and access tokens scoped for tunnel:start when v has an Authorizer). The caller
// runs v (go v.Run(ctx)) so that revocations reach its cache promptly.
func New(v *credential.Verifier, opts ...Option) *Server {
	s := &Server{
		v:                v,
		log:              slog.New(slog.DiscardHandler),
		checkInterval:    DefaultCheckInterval,
		handshakeTimeout: DefaultHandshakeTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Serve accepts agents on ln until ctx is done, then closes ln, closes every open session
// with a closing line (ERR_IAMKIT_SHUTDOWN), waits for their goroutines and returns nil.
// If ln fails for another reason it returns that error, after closing the sessions too.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		ln.Close()
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	s.log.Info("tunnel edge listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("tunnel: accept: %w", err)
			}
			// Out of file descriptors and the like: wait and try again, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("tunnel accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		wg.Go(func() { s.handle(ctx, conn) })
	}
}

// session is one agent connection after a successful handshake.
type session struct {
	token string     // the agent's authtoken or access token: re-verified, never logged
	addr  netip.Addr // the agent's address, which the credential's allow-list is checked against
	bind  string
	res   credential.Result
}

func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	start := time.Now()
	log := s.log.With("remote", conn.RemoteAddr().String())

	br := bufio.NewReaderSize(conn, MaxRequestLen)
	sess, refusal := s.handshake(ctx, conn, br)
	if refusal != nil {
		log.LogAttrs(ctx, slog.LevelInfo, "tunnel session refused",
			append(refusal.attrs, slog.String("error_code", refusal.resp.ErrorCode),
				slog.Duration("duration", time.Since(start)))...)
		s.write(conn, refusal.resp)
		if ctx.Err() == nil {
			lingeringClose(conn)
		}
		return
	}
	log = log.With("credential_id", sess.res.CredentialID, "account_id", sess.res.AccountID,
		"owner_id", sess.res.OwnerID, "bind", sess.bind)
	if err := s.write(conn, Response{
		OK:           true,
		AccountID:    sess.res.AccountID,
		CredentialID: sess.res.CredentialID,
		OwnerID:      sess.res.OwnerID,
	}); err != nil {
		log.Info("tunnel session lost before it opened", "err", err)
		return
	}
	log.Info("tunnel session opened", "handshake", time.Since(start))

	// The agent has nothing more to say; reading tells us when it hangs up.
	hungUp := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, br)
		hungUp <- err
	}()

	closing, why := s.watch(ctx, sess, hungUp)
	if closing != nil {
		s.write(conn, *closing)
		conn.Close()
		<-hungUp
	}
	attrs := []slog.Attr{slog.String("why", why), slog.Duration("duration", time.Since(start))}
	if closing != nil {
		attrs = append(attrs, slog.String("error_code", closing.ErrorCode))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "tunnel session closed", attrs...)
}

// watch re-verifies the session's credential every check interval until it goes bad, the
// agent hangs up or ctx is done. It returns the closing line to send (nil when the agent hung
// up) and a short reason for the log.
func (s *Server) watch(ctx context.Context, sess session, hungUp <-chan error) (*Response, string) {
	t := time.NewTicker(s.checkInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return &Response{Closed: true, ErrorCode: CodeShutdown, Msg: "The edge is shutting down."}, "shutdown"
		case err := <-hungUp:
			if err != nil {
				return nil, "connection error"
			}
			return nil, "agent hung up"
		case <-t.C:
		}
		res, err := s.v.VerifyAgent(ctx, sess.token, sess.addr)
		if err != nil {
			if ctx.Err() != nil {
				continue // shutting down: say so above
			}
			code, msg := verifyFailure(err, sess.res.CredentialID)
			return &Response{Closed: true, ErrorCode: code, Msg: msg}, reasonName(err)
		}
		if !res.ACL.AllowsBind(sess.bind) {
			code, msg := bindDenied(sess.bind, res.CredentialID)
			return &Response{Closed: true, ErrorCode: code, Msg: msg}, "acl changed"
		}
	}
}

// refusal is a failed handshake: the answer to send and what to log.
type refusal struct {
	resp  Response
	attrs []slog.Attr
}

func refuse(code, msg string, attrs ...slog.Attr) *refusal {
	return &refusal{resp: Response{ErrorCode: code, Msg: msg}, attrs: attrs}
}

func (s *Server) handshake(ctx context.Context, conn net.Conn, br *bufio.Reader) (session, *refusal) {
	conn.SetReadDeadline(time.Now().Add(s.handshakeTimeout))
	// Shutting down interrupts a handshake in progress.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	line, err := br.ReadSlice('\n')
	stop()
	switch {
	case ctx.Err() != nil:
		return session{}, refuse(CodeShutdown, "The edge is shutting down.")
	case errors.Is(err, bufio.ErrBufferFull):
		return session{}, refuse(CodeRequestTooLarge,
			fmt.Sprintf("The request line is longer than %d bytes.", MaxRequestLen))
	case errors.Is(err, io.EOF) && len(line) > 0:
		// A last line without its newline is still a request.
	case errors.Is(err, io.EOF):
		return session{}, refuse(CodeBadRequest, "The connection closed before a request was sent.")
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return session{}, refuse(CodeBadRequest,
				fmt.Sprintf("No request line within %s.", s.handshakeTimeout))
		}
		return session{}, refuse(CodeBadRequest, "The request could not be read.", slog.Any("err", err))
	}
	conn.SetReadDeadline(time.Time{})

	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		// The decoder's error may quote the input, which may hold a token: log only its kind.
		return session{}, refuse(CodeBadRequest,
			`The request must be one JSON object: {"authtoken":"...","bind":"..."}.`,
			slog.String("err", fmt.Sprintf("%T", err)))
	}
	attrs := []slog.Attr{slog.String("bind", req.Bind)}
	if t, err := credential.ParseToken(req.Authtoken); err == nil {
		// The token's public part names its credential; the ID is not secret.
		attrs = append(attrs, slog.String("credential_id", t.CredentialID()))
	}
	if req.Authtoken == "" {
		return session{}, refuse(CodeAuthtokenMissing,
			"Usage of the tunnel edge requires an authtoken.", attrs...)
	}
	addr := remoteAddr(conn)
	res, err := s.v.VerifyAgent(ctx, req.Authtoken, addr)
	if err != nil {
		code, msg := verifyFailure(err, "")
		return session{}, refuse(code, msg, append(attrs, slog.String("reason", reasonName(err)))...)
	}
	if msg := checkBindTarget(req.Bind); msg != "" {
		return session{}, refuse(CodeBadRequest, msg, attrs...)
	}
	if !res.ACL.AllowsBind(req.Bind) {
		code, msg := bindDenied(req.Bind, res.CredentialID)
		return session{}, refuse(code, msg, attrs...)
	}
	return session{token: req.Authtoken, addr: addr, bind: req.Bind, res: res}, nil
}

// remoteAddr is the agent's address, or the zero Addr when the connection does not say.
func remoteAddr(conn net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// checkBindTarget says what is wrong with a bind target, or "" if nothing is. A target must
// read as a bind rule's value (so that an ACL could name it), without the ACL-only wildcards.
func checkBindTarget(target string) string {
	const want = "The bind target must be a hostname, a host:port address or a key=value label."
	if target == "" {
		return "The request has no bind target. " + want
	}
	if target == "*" || (kindOf(target) == bindLabel && strings.Contains(target, "*")) {
		return "The bind target must name one endpoint, not a wildcard rule. " + want
	}
	if _, err := credential.ParseACL([]string{"bind:" + target}); err != nil {
		return "Invalid bind target. " + want
	}
	return ""
}

// verifyFailure maps a Verifier rejection to ngrok's code and message for it. credentialID
// names the credential in messages when known (an open session's).
func verifyFailure(err error, credentialID string) (code, msg string) {
	var r credential.Reason
	if !errors.As(err, &r) {
		return CodeUnavailable, "The edge could not verify the authtoken; try again later."
	}
	cred := "The authtoken"
	if credentialID != "" {
		cred = "The authtoken credential " + credentialID
	}
	switch r {
	case credential.ReasonMalformed:
		return CodeAuthtokenMalformed, "The authtoken you specified does not look like a proper authtoken."
	case credential.ReasonWrongKind:
		return CodeAuthtokenMalformed, "The authtoken you specified is not an authtoken or an access token (an API key?)."
	case credential.ReasonNotScoped:
		return CodeNotScoped, cred + " is an access token that may not start agent sessions: it needs the tunnel:start scope, held by its owner."
	case credential.ReasonIPNotAllowed:
		return CodeIPNotAllowed, cred + " may not be used from this address."
	case credential.ReasonIPRestricted:
		return CodeIPNotAllowed, "The account's IP restrictions do not allow agents to connect from this address."
	case credential.ReasonUnknown:
		return CodeAuthtokenInvalid, "The authtoken you specified is properly formed, but it is invalid."
	case credential.ReasonExpired:
		return CodeAuthtokenInvalid, cred + " has expired and is no longer valid."
	case credential.ReasonRevoked:
		return CodeAuthtokenRevoked, cred + " has been revoked and is no longer valid."
	case credential.ReasonOwnerInactive:
		return CodeOwnerInactive, "The credential owner is marked as inactive on the account."
	default: // credential.ReasonUnavailable, and any reason added later: fail closed
		return CodeUnavailable, "The edge could not verify the authtoken; try again later."
	}
}

// bindDenied is the refusal of a bind target the credential's ACL does not allow.
func bindDenied(target, credentialID string) (code, msg string) {
	switch kindOf(target) {
	case bindAddress:
		return CodeBindAddressDenied, fmt.Sprintf(
			"The credential ACL policy does not permit binding this address. Credential ID: %s Address: %s",
			credentialID, target)
	case bindLabel:
		return CodeBindLabelDenied, fmt.Sprintf(
			"The credential ACL policy does not permit binding this label. Credential ID: %s Label: %s",
			credentialID, target)
	default:
		return CodeBindNameDenied, fmt.Sprintf(
			"The credential ACL policy does not permit binding this name. Credential ID: %s Name: %s",
			credentialID, target)
	}
}

func reasonName(err error) string {
	var r credential.Reason
	if errors.As(err, &r) {
		return r.String()
	}
	return "error"
}

// write sends one line, bounded by writeTimeout.
func (s *Server) write(conn net.Conn, r Response) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("tunnel: encode answer: %w", err)
	}
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("tunnel: send answer: %w", err)
	}
	return nil
}

// lingeringClose reads and discards what the agent may still be sending, briefly, before the
// connection is closed: closing a socket with unread input resets the connection, and the
// agent could lose the answer just written (an oversized request, say).
func lingeringClose(conn net.Conn) {
	if hc, ok := conn.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.CopyN(io.Discard, conn, 256<<10)
}
