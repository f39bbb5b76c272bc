package tunnel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// MaxRequestLen is the longest request line the edge reads, in bytes, newline included.
// A real request is about 100 bytes: a 68-character token and a bind target of at most 255.
const MaxRequestLen = 4096

// Error codes the edge answers with; see the package documentation for when.
const (
	CodeAuthtokenMissing   = "ERR_NGROK_4018"
	CodeAuthtokenMalformed = "ERR_NGROK_105"
	CodeAuthtokenInvalid   = "ERR_NGROK_107"
	CodeAuthtokenRevoked   = "ERR_NGROK_300"
	CodeOwnerInactive      = "ERR_NGROK_636"
	CodeBindAddressDenied  = "ERR_NGROK_308"
	CodeBindNameDenied     = "ERR_NGROK_316"
	CodeBindLabelDenied    = "ERR_NGROK_399"
	CodeBadRequest         = "ERR_IAMKIT_BAD_REQUEST"
	CodeRequestTooLarge    = "ERR_IAMKIT_REQUEST_TOO_LARGE"
	CodeUnavailable        = "ERR_IAMKIT_UNAVAILABLE"
	CodeNotScoped          = "ERR_IAMKIT_NOT_SCOPED"
	CodeIPNotAllowed       = "ERR_IAMKIT_IP_NOT_ALLOWED"
	CodeShutdown           = "ERR_IAMKIT_SHUTDOWN"
)

// Request is the line an agent sends to open a session.
type Request struct {
	// Authtoken is the agent's tunnel authtoken (iat_...). It is a secret: Request redacts it
	// when printed or logged.
	Authtoken string `json:"authtoken"`
	// Bind is the endpoint the agent wants to serve: a hostname, a host:port address or a
	// key=value label.
	Bind string `json:"bind"`
}

// String implements fmt.Stringer without the authtoken.
func (r Request) String() string {
	return fmt.Sprintf("{authtoken:[REDACTED] bind:%q}", r.Bind)
}

// GoString implements fmt.GoStringer without the authtoken.
func (r Request) GoString() string {
	return fmt.Sprintf("tunnel.Request{Authtoken:\"[REDACTED]\", Bind:%q}", r.Bind)
}

// LogValue implements slog.LogValuer without the authtoken.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("authtoken", "[REDACTED]"), slog.String("bind", r.Bind))
}

// Response is a line the edge sends: the answer to a Request, and, for a session that was
// opened, the closing line.
type Response struct {
	OK           bool   `json:"ok"`
	Closed       bool   `json:"closed,omitempty"` // the closing line of an open session
	AccountID    string `json:"account_id,omitempty"`
	CredentialID string `json:"credential_id,omitempty"`
	OwnerID      string `json:"owner_id,omitempty"`
	ErrorCode    string `json:"error_code,omitempty"`
	Msg          string `json:"msg,omitempty"`
}

// Error is a refusal or a closing reason from the edge, as the agent side sees it (Dial and
// Session.Wait). Match it with errors.As and compare Code with the Code constants.
type Error struct {
	Code string
	Msg  string
}

// Error returns "tunnel: <code>: <message>".
func (e *Error) Error() string { return "tunnel: " + e.Code + ": " + e.Msg }

// ErrProtocol is matched by the errors Dial and Session.Wait return when the edge's answer
// is not a line of the protocol.
var ErrProtocol = errors.New("tunnel: protocol error")

// Session is an open session on the agent's side.
type Session struct {
	// Response is the edge's answer: the account, credential and owner the session is for.
	Response Response

	conn net.Conn
	br   *bufio.Reader
}

// Dial connects to the edge at addr, sends req and reads the answer. When the edge refuses,
// the error is an *Error with its code. Dial is the agent side of the protocol; ctx bounds
// the whole handshake.
func Dial(ctx context.Context, addr string, req Request) (*Session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tunnel: dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	s, err := handshake(conn, req)
	if !stop() {
		conn.Close()
		return nil, fmt.Errorf("tunnel: handshake: %w", context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func handshake(conn net.Conn, req Request) (*Session, error) {
	line, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("tunnel: encode request: %w", err)
	}
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("tunnel: send request: %w", err)
	}
	s := &Session{conn: conn, br: bufio.NewReaderSize(conn, MaxRequestLen)}
	resp, err := s.readResponse()
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		return nil, &Error{Code: resp.ErrorCode, Msg: resp.Msg}
	}
	s.Response = resp
	return s, nil
}

func (s *Session) readResponse() (Response, error) {
	line, err := s.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return Response{}, fmt.Errorf("%w: answer longer than %d bytes", ErrProtocol, MaxRequestLen)
		}
		return Response{}, fmt.Errorf("tunnel: read answer: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return resp, nil
}

// Wait blocks until the edge closes the session and returns why, as an *Error: revoked,
// owner inactive, shutting down... It returns an error matching io.EOF if the connection
// ended without a closing line, and the read error if it was closed on this side.
func (s *Session) Wait() error {
	resp, err := s.readResponse()
	if err != nil {
		return err
	}
	if !resp.Closed {
		return fmt.Errorf("%w: unexpected line after the answer", ErrProtocol)
	}
	return &Error{Code: resp.ErrorCode, Msg: resp.Msg}
}

// Close hangs up.
func (s *Session) Close() error { return s.conn.Close() }

// bindKind is what a bind target names, which decides the ACL error code.
type bindKind uint8

const (
	bindName bindKind = iota
	bindAddress
	bindLabel
)

func kindOf(target string) bindKind {
	switch {
	case strings.Contains(target, "="):
		return bindLabel
	case strings.Contains(target, ":"):
		return bindAddress
	default:
		return bindName
	}
}
