package credential

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/audit"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// Leak response: GitHub's secret-scanning partner program. When GitHub finds strings that
// match TokenPattern in public content, it POSTs them to the partner's endpoint, signed with
// one of its keys; the partner revokes what is live and answers which reports were real.

// Limits of a secret-scanning report.
const (
	// MaxScanBody is the largest report body HandleGitHubScan reads, in bytes.
	MaxScanBody = 1 << 20
	// MaxScanMatches is the most tokens one report may hold.
	MaxScanMatches = 1000
	// DefaultReplayWindow is how long a report's signed body is remembered, so that the same
	// body is refused if it comes again (WithReplayWindow).
	DefaultReplayWindow = 24 * time.Hour
	// maxKeysDocument bounds the key document ParseGitHubKeys reads, in bytes.
	maxKeysDocument = 1 << 16
	// maxSubjectURL bounds the URL an event's principal subject quotes, in bytes.
	maxSubjectURL = 512
)

// The labels of GitHub's false-positive feedback.
const (
	LabelTruePositive  = "true_positive"
	LabelFalsePositive = "false_positive"
)

// LeakResponderID is the principal ID of the audit events that record a revocation by the
// leak responder (with source identity.SourceLeakResponder, and the subject saying where the
// token was found).
const LeakResponderID = "leak_responder"

// GitHubKey is one of the public keys GitHub signs secret-scanning reports with: an ECDSA
// P-256 key and the identifier reports name it by (the Github-Public-Key-Identifier header).
type GitHubKey struct {
	ID  string
	Key *ecdsa.PublicKey
}

// ParseGitHubKey parses one signing key: its identifier and its PEM ("-----BEGIN PUBLIC
// KEY-----", PKIX). Anything but an ECDSA P-256 key is refused. Errors match store.ErrInvalid
// with code CodeInvalidScanKey.
func ParseGitHubKey(keyID string, pemKey []byte) (GitHubKey, error) {
	bad := func(why string) (GitHubKey, error) {
		return GitHubKey{}, store.Invalid("key", CodeInvalidScanKey, 0, "%s", why)
	}
	if keyID == "" {
		return GitHubKey{}, store.Invalid("key_identifier", CodeInvalidScanKey, 0, "required")
	}
	block, rest := pem.Decode(pemKey)
	switch {
	case block == nil:
		return bad("not a PEM block")
	case block.Type != "PUBLIC KEY":
		return bad("not a PEM public key")
	case len(bytes.TrimSpace(rest)) > 0:
		return bad("more than one PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return bad("not a PKIX public key")
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return bad("not an ECDSA P-256 key")
	}
	return GitHubKey{ID: keyID, Key: key}, nil
}

// ParseGitHubKeys parses the key document GitHub publishes at
// https://api.github.com/meta/public_keys/secret_scanning:
//
//	{"public_keys": [{"key_identifier": "...", "key": "-----BEGIN PUBLIC KEY-----...", "is_current": true}]}
//
// It returns every key, current or not (a report may be signed with a key GitHub is
// retiring). Errors match store.ErrInvalid with code CodeInvalidScanKey, naming the key.
func ParseGitHubKeys(doc []byte) ([]GitHubKey, error) {
	if len(doc) > maxKeysDocument {
		return nil, &store.Error{Kind: store.ErrInvalid, Code: CodeInvalidScanKey, Field: "public_keys", Limit: maxKeysDocument, Msg: "the document is too large"}
	}
	var d struct {
		PublicKeys []struct {
			KeyIdentifier string `json:"key_identifier"`
			Key           string `json:"key"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.PublicKeys == nil {
		return nil, store.Invalid("public_keys", CodeInvalidScanKey, 0, "not GitHub's secret-scanning key document")
	}
	out := make([]GitHubKey, 0, len(d.PublicKeys))
	for i, k := range d.PublicKeys {
		key, err := ParseGitHubKey(k.KeyIdentifier, []byte(k.Key))
		if err != nil {
			var se *store.Error
			if errors.As(err, &se) {
				se.Field = fmt.Sprintf("public_keys[%d].%s", i, se.Field)
			}
			return nil, err
		}
		out = append(out, key)
	}
	return out, nil
}

// ScanMatch is one token a secret-scanning report names: the string found, the type
// GitHub gives it, where it was found and in what (content, commit, an issue, ...).
// Token is a secret: a ScanMatch prints and logs it redacted.
type ScanMatch struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// String implements fmt.Stringer without the token.
func (m ScanMatch) String() string {
	return fmt.Sprintf("{Token:%s Type:%s URL:%s Source:%s}", redacted, m.Type, m.URL, m.Source)
}

// GoString implements fmt.GoStringer without the token.
func (m ScanMatch) GoString() string { return "credential.ScanMatch" + m.String() }

// Format implements fmt.Formatter: every verb prints String.
func (m ScanMatch) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m.String(), m.GoString()) }

// LogValue implements slog.LogValuer without the token.
func (m ScanMatch) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", m.Type), slog.String("url", m.URL), slog.String("source", m.Source))
}

// ScanFeedback is one entry of the answer GitHub takes for a report: the token as reported,
// its type, and whether it was a live credential (LabelTruePositive, revoked now) or not
// (LabelFalsePositive). It marshals as GitHub expects ({"token_raw", "token_type",
// "label"}), but prints and logs the token redacted.
type ScanFeedback struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// String implements fmt.Stringer without the token.
func (f ScanFeedback) String() string {
	return fmt.Sprintf("{TokenRaw:%s TokenType:%s Label:%s}", redacted, f.TokenType, f.Label)
}

// GoString implements fmt.GoStringer without the token.
func (f ScanFeedback) GoString() string { return "credential.ScanFeedback" + f.String() }

// Format implements fmt.Formatter: every verb prints String.
func (f ScanFeedback) Format(s fmt.State, verb rune) {
	formatRedacted(s, verb, f.String(), f.GoString())
}

// LogValue implements slog.LogValuer without the token.
func (f ScanFeedback) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_type", f.TokenType), slog.String("label", f.Label))
}

// LeakNotice tells a credential's owner (through the embedder's LeakNotifier) that the
// credential was revoked because it leaked, and where.
type LeakNotice struct {
	AccountID    string
	OwnerID      string
	OwnerBot     bool // a bot user; otherwise a user
	Subject      string
	CredentialID string
	Kind         store.CredentialKind
	URL          string // where the token was found
	Source       string // in what: content, commit, ...
	RevokedAt    time.Time
}

// LeakNotifier is the embedder's hook that tells an owner their credential was revoked (an
// email, a webhook). The leak responder calls it after the revocation committed, once per
// credential, with the report's context; an error is logged.
type LeakNotifier func(ctx context.Context, n LeakNotice) error

// LeakResponder answers secret-scanning reports: it verifies a report's signature, refuses a
// report it received before, revokes every live credential the report names, records an
// audit event for each, tells owners through the LeakNotifier, and answers which reported
// tokens were real. It is safe for concurrent use.
type LeakResponder struct {
	st     store.Store
	keys   map[string]*ecdsa.PublicKey
	hasher *Hasher
	clock  store.Clock
	rec    audit.Recorder[identity.Resource]
	log    *slog.Logger
	notify LeakNotifier
	window time.Duration
}

// NewLeakResponder returns a LeakResponder over st that accepts reports signed with keys
// (ParseGitHubKeys, ParseGitHubKey; at least one). It takes the options WithHasher (the
// Service's), WithClock, WithRandom, WithLogger, WithLeakNotifier and WithReplayWindow. A nil
// store, no key, two keys with one identifier, or an option set to nil or out of range is an
// error matching store.ErrInvalid that names it.
func NewLeakResponder(st store.Store, keys []GitHubKey, opts ...Option) (*LeakResponder, error) {
	if st == nil {
		return nil, store.Invalid("store", store.CodeRequired, 0, "required")
	}
	if len(keys) == 0 {
		return nil, store.Invalid("keys", store.CodeRequired, 0, "at least one signing key is required")
	}
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.replay <= 0 {
		return nil, store.Invalid("replay_window", store.CodeOutOfRange, 0, "must be positive")
	}
	r := &LeakResponder{
		st: st, keys: map[string]*ecdsa.PublicKey{}, hasher: c.hasher, clock: c.clock, log: c.logger,
		notify: c.notify, window: c.replay,
	}
	for i, k := range keys {
		field := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.ID == "" || k.Key == nil || k.Key.Curve != elliptic.P256():
			return nil, store.Invalid(field, CodeInvalidScanKey, 0, "an ECDSA P-256 key with an identifier is required")
		case r.keys[k.ID] != nil:
			return nil, store.Invalid(field, CodeInvalidScanKey, 0, "a duplicate key identifier")
		}
		r.keys[k.ID] = k.Key
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	rnd := c.rand
	if rnd == nil {
		rnd = rand.Reader
	}
	r.rec = audit.New(id.NewGenerator(c.clock, rnd), c.clock, identity.ResourceOf)
	return r, nil
}

// HandleGitHubScan answers one report: keyID and signature are its Github-Public-Key-
// Identifier and Github-Public-Key-Signature headers, body its raw body (at most
// MaxScanBody bytes). It checks, in this order, that:
//
//   - the body is not too large (store.ErrInvalid, code CodeScanMalformed, with Limit);
//   - the signature (base64 of an ASN.1 DER ECDSA signature) verifies over the SHA-256 of
//     the body with the key keyID names (store.ErrUnauthenticated, code CodeScanSignature);
//   - the body was not received within the replay window (store.ErrUnauthenticated, code
//     CodeScanReplayed): a signed body is single use;
//   - the body is a JSON array of at most MaxScanMatches {"token", "type", "url", "source"}
//     (store.ErrInvalid, code CodeScanMalformed).
//
// Then it revokes, each in its own transaction, every live credential a reported token is
// the token of (its kind, ID and secret, any state, expired too): the credential is deleted
// with a *_deleted event whose principal is the leak responder (LeakResponderID, source
// identity.SourceLeakResponder, the subject saying where it was found). After each commit it
// calls the LeakNotifier. The answer has one ScanFeedback per reported token, in order:
// LabelTruePositive for a credential revoked now, LabelFalsePositive for anything else (not
// an iamkit token, a test token, a forged secret, a credential already gone). When the store
// fails, the error says so (store.ErrUnavailable) and the report may be sent again: its body
// is not remembered then.
func (r *LeakResponder) HandleGitHubScan(ctx context.Context, keyID, signature string, body []byte) ([]ScanFeedback, error) {
	if len(body) > MaxScanBody {
		return nil, &store.Error{Kind: store.ErrInvalid, Code: CodeScanMalformed, Field: "body", Limit: MaxScanBody, Msg: "the report is too large"}
	}
	if err := r.verifySignature(keyID, signature, body); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(body)
	replayKey := "leak:github:" + hex.EncodeToString(digest[:])
	err := r.st.PutSingleUse(ctx, replayKey, nil, r.clock.Now().Add(r.window))
	if errors.Is(err, store.ErrConflict) {
		return nil, store.NewError(store.ErrUnauthenticated, CodeScanReplayed, "this signed report was received before")
	}
	if err != nil {
		return nil, err
	}
	matches, err := parseScanReport(body)
	if err != nil {
		return nil, err
	}
	out := make([]ScanFeedback, len(matches))
	var notices []LeakNotice
	for i, m := range matches {
		notice, revoked, err := r.revoke(ctx, m)
		if err != nil {
			// Forget the body, so that GitHub's retry is not taken for a replay.
			_, _ = r.st.TakeSingleUse(context.WithoutCancel(ctx), replayKey)
			return nil, err
		}
		out[i] = ScanFeedback{TokenRaw: m.Token, TokenType: m.Type, Label: LabelFalsePositive}
		if revoked {
			out[i].Label = LabelTruePositive
			notices = append(notices, notice)
		}
	}
	for _, n := range notices {
		r.log.Warn("credential revoked: found by GitHub secret scanning",
			"account_id", n.AccountID, "credential_id", n.CredentialID, "url", n.URL, "source", n.Source)
		if r.notify == nil {
			continue
		}
		if err := r.notify(ctx, n); err != nil {
			r.log.Error("leak responder: notifying the owner failed", "credential_id", n.CredentialID, "owner_id", n.OwnerID, "err", err)
		}
	}
	return out, nil
}

// verifySignature checks a report's signature over body with the key keyID names.
func (r *LeakResponder) verifySignature(keyID, signature string, body []byte) error {
	bad := store.NewError(store.ErrUnauthenticated, CodeScanSignature, "the report's signature does not verify with a configured key")
	key := r.keys[keyID]
	if key == nil {
		return bad
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(sig) == 0 {
		return bad
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(key, digest[:], sig) {
		return bad
	}
	return nil
}

// parseScanReport reads a report's body: a JSON array of matches, each with a token.
func parseScanReport(body []byte) ([]ScanMatch, error) {
	malformed := func(why string) ([]ScanMatch, error) {
		return nil, store.Invalid("body", CodeScanMalformed, 0, "%s", why)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		return malformed("the report must be a JSON array")
	}
	var matches []ScanMatch
	if err := json.Unmarshal(body, &matches); err != nil {
		return malformed("the report must be a JSON array of {token, type, url, source}")
	}
	if len(matches) > MaxScanMatches {
		return nil, &store.Error{Kind: store.ErrInvalid, Code: CodeScanMalformed, Field: "body", Limit: MaxScanMatches, Msg: "too many tokens in one report"}
	}
	return matches, nil
}

// revoke revokes the live credential m's token is the token of, if any, and reports what it
// did. A token of no live credential is no error: it is a false positive.
func (r *LeakResponder) revoke(ctx context.Context, m ScanMatch) (LeakNotice, bool, error) {
	tok, err := ParseToken(m.Token)
	if err != nil || IsTestToken(tok) {
		return LeakNotice{}, false, nil
	}
	var n LeakNotice
	revoked := false
	err = r.st.Update(ctx, func(tx store.Tx) error {
		revoked = false
		c, owner, err := tx.CredentialAuth(ctx, tok.CredentialID())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !possesses(r.hasher, tok, c) {
			return nil
		}
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		now := r.clock.Now().UTC()
		by := store.Principal{ID: LeakResponderID, Subject: leakSubject(m), Source: string(identity.SourceLeakResponder)}
		_, _, deleted := identity.CredentialEventTypes(c.Kind)
		if err := r.rec.Record(ctx, tx, c.AccountID, deleted, by, objectOf(c)); err != nil {
			return err
		}
		n = LeakNotice{
			AccountID: c.AccountID, OwnerID: owner.ID, OwnerBot: owner.Bot, Subject: owner.Subject,
			CredentialID: c.ID, Kind: c.Kind, URL: m.URL, Source: m.Source, RevokedAt: now,
		}
		revoked = true
		return nil
	})
	if err != nil {
		return LeakNotice{}, false, err
	}
	return n, revoked, nil
}

// leakSubject is the subject of a revocation event's principal: who revoked (GitHub secret
// scanning) and where the token was found, as valid UTF-8 without NUL, the URL cut to
// maxSubjectURL bytes.
func leakSubject(m ScanMatch) string {
	clean := func(s string) string {
		return strings.ReplaceAll(strings.ToValidUTF8(s, "\ufffd"), "\x00", "")
	}
	subject := "GitHub secret scanning"
	if m.Source != "" {
		subject += " (" + clean(m.Source) + ")"
	}
	if m.URL != "" {
		u := clean(m.URL)
		if len(u) > maxSubjectURL {
			u = strings.ToValidUTF8(u[:maxSubjectURL], "") + "..."
		}
		subject += ": " + u
	}
	return subject
}

// possesses reports whether tok is the token of c: its kind, its ID and, in constant time,
// its secret, hashed by h.
func possesses(h *Hasher, tok Token, c store.Credential) bool {
	stored, err := ParseSecretHash(c.SecretHash)
	if err != nil || !tok.MatchesCredential(c.Kind, c.ID) {
		return false
	}
	sum := h.Hash(tok)
	return equal32(&stored, &sum)
}
