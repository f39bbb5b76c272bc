package eventstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/store"
)

// maxResponse is how much of a receiver's response is read (and discarded).
const maxResponse = 4 << 10

// CodeURLRefused is the code of the ErrInvalid error about a destination URL that is not
// https, names no host, carries credentials or a fragment, or (without WithLoopback) names a
// loopback host.
const CodeURLRefused = "url_refused"

// checkURL returns an error unless raw is a URL the worker may post to.
func checkURL(raw string, loopback bool) error {
	refuse := func(why string) error {
		return store.Invalid("target.webhook.url", CodeURLRefused, store.MaxWebhookURLLen, "%s", why)
	}
	if len(raw) > store.MaxWebhookURLLen {
		return refuse(fmt.Sprintf("%d bytes at most", store.MaxWebhookURLLen))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return refuse("must be an absolute https URL")
	case u.User != nil:
		return refuse("must not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return refuse("must not have a fragment")
	}
	local := isLoopbackHost(u.Hostname())
	switch {
	case local && !loopback:
		return refuse("must not be a loopback address")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && local:
		return nil
	}
	return refuse("must be https")
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// sharedSpace is 100.64.0.0/10 (carrier-grade NAT), which netip does not call private.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether a is an address the worker may dial: a global unicast address
// outside private, shared and link-local space, or a loopback address when loopback is on.
func publicAddr(a netip.Addr, loopback bool) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return loopback
	}
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedSpace.Contains(a)
}

// sender posts events to destinations.
type sender struct {
	client *http.Client
	clock  store.Clock
	loop   bool
}

func newSender(c *config) *sender {
	d := &net.Dialer{Timeout: c.timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !publicAddr(ap.Addr(), c.loopback) {
			return errors.New("address not allowed for a webhook")
		}
		return nil
	}}
	tr := &http.Transport{
		Proxy:                 nil, // dial the receiver itself: the address check must see it
		DialContext:           d.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   c.timeout,
		ResponseHeaderTimeout: c.timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &sender{
		client: &http.Client{
			Transport:     tr,
			Timeout:       c.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		clock: c.clock,
		loop:  c.loopback,
	}
}

func (s *sender) close() { s.client.CloseIdleConnections() }

// Envelope is the JSON body of a delivery: ngrok's log envelope.
type Envelope struct {
	AccountID      string            `json:"account_id"`
	EventID        string            `json:"event_id"`
	EventType      string            `json:"event_type"`
	EventTimestamp string            `json:"event_timestamp"`
	Principal      EnvelopePrincipal `json:"principal"`
	Object         json.RawMessage   `json:"object"`
}

// EnvelopePrincipal is who caused the event; Credential is null for the dashboard.
type EnvelopePrincipal struct {
	ID         string         `json:"id"`
	Subject    string         `json:"subject"`
	Source     string         `json:"source"`
	Credential *CredentialRef `json:"credential"`
}

// CredentialRef names the credential an action was taken with.
type CredentialRef struct {
	ID string `json:"id"`
}

// EnvelopeOf returns the delivery body of an event.
func EnvelopeOf(ev store.Event) Envelope {
	env := Envelope{
		AccountID: ev.AccountID, EventID: ev.ID, EventType: string(ev.Type), EventTimestamp: identity.Timestamp(ev.CreatedAt),
		Principal: EnvelopePrincipal{ID: ev.Principal.ID, Subject: ev.Principal.Subject, Source: ev.Principal.Source},
		Object:    ev.Object,
	}
	if ev.Principal.CredentialID != "" {
		env.Principal.Credential = &CredentialRef{ID: ev.Principal.CredentialID}
	}
	if len(env.Object) == 0 {
		env.Object = json.RawMessage("null")
	}
	return env
}

// failure is a failed try: the receiver's status (0 when none came back) and why, in words
// that hold no URL or secret.
type failure struct {
	status int
	reason string
}

func (f *failure) Error() string { return f.reason }

// send posts ev to d once. It returns nil when the receiver answered 2xx.
func (s *sender) send(ctx context.Context, d store.EventDestination, ev store.Event) *failure {
	if err := checkURL(d.URL, s.loop); err != nil {
		return &failure{reason: "destination URL refused"}
	}
	body, err := json.Marshal(EnvelopeOf(ev))
	if err != nil {
		return &failure{reason: "encoding the event: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return &failure{reason: "building the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "iamkit-webhooks/1")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderSignature, Sign(d.Secret, s.clock.Now(), body))
	resp, err := s.client.Do(req)
	if err != nil {
		return &failure{reason: describe(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		why := resp.Status
		if resp.StatusCode/100 == 3 {
			why += " (redirects are not followed)"
		}
		return &failure{status: resp.StatusCode, reason: truncate(why)}
	}
	return nil
}

// describe returns why a request failed without the URL, which may hold a secret.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return truncate(err.Error())
}

func truncate(s string) string {
	if len(s) > store.MaxDeliveryErrorLen {
		s = s[:store.MaxDeliveryErrorLen]
	}
	return strings.ToValidUTF8(s, "")
}
