package id

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/iamkit/iamkit/store"
)

// Prefix is the type part of an ID, without the underscore.
type Prefix string

// The prefixes of iamkit's record types.
const (
	Account           Prefix = "ac"
	User              Prefix = "usr"
	BotUser           Prefix = "bot"
	Authtoken         Prefix = "cr"
	APIKey            Prefix = "ak"
	AccessToken       Prefix = "pat"
	SSHCredential     Prefix = "sshcr"
	Role              Prefix = "role"
	IdentityProvider  Prefix = "idp"
	Invitation        Prefix = "inv"
	Event             Prefix = "ev"
	Session           Prefix = "ses"
	EventDestination  Prefix = "ed"
	EventSubscription Prefix = "esb"
	DeadLetter        Prefix = "edl"
	Group             Prefix = "grp"
	Domain            Prefix = "dom"
	IPPolicy          Prefix = "ipp" // ngrok's prefixes for IP policies, their rules and IP restrictions
	IPPolicyRule      Prefix = "ipr"
	IPRestriction     Prefix = "ipx"
)

const (
	ulidLen = 26
	// TagLen is the length of the shard tag at the end of every ID body.
	TagLen = 4
	// BodyLen is the length of an ID without its prefix and underscore.
	BodyLen = ulidLen + TagLen
)

// crockford is the alphabet of ULIDs and tags.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// The errors of this package are *store.Error values matching store.ErrInvalid, with code
// store.CodeInvalidValue. They never repeat the input: a caller may have pasted a secret
// where an ID belongs.

// Generator makes IDs. It is safe for concurrent use.
type Generator struct {
	clock store.Clock
	rand  io.Reader

	mu   sync.Mutex
	last ulid.ULID
}

// NewGenerator returns a Generator reading time from c and randomness from r
// (crypto/rand.Reader in production).
func NewGenerator(c store.Clock, r io.Reader) *Generator {
	return &Generator{clock: c, rand: r}
}

// New returns a new ID with prefix p and a random shard tag. Use it for accounts and for
// records that belong to no account.
func (g *Generator) New(p Prefix) (string, error) {
	var tag [TagLen]byte
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := io.ReadFull(g.rand, tag[:]); err != nil {
		return "", fmt.Errorf("id: reading randomness: %w", err)
	}
	for i, b := range tag {
		tag[i] = crockford[b&31]
	}
	return g.newLocked(p, string(tag[:]))
}

// NewIn returns a new ID with prefix p that carries the shard tag of accountID.
func (g *Generator) NewIn(p Prefix, accountID string) (string, error) {
	if err := Check(accountID, Account); err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.newLocked(p, Tag(accountID))
}

func (g *Generator) newLocked(p Prefix, tag string) (string, error) {
	now := g.clock.Now()
	var u ulid.ULID
	if _, err := io.ReadFull(g.rand, u[6:]); err != nil {
		return "", fmt.Errorf("id: reading randomness: %w", err)
	}
	ms := ulid.Timestamp(now)
	if now.Before(time.UnixMilli(1)) {
		ms = 1 // a time part of zero is reserved (Reserved); so are times before 1970
	}
	if err := u.SetTime(ms); err != nil {
		return "", fmt.Errorf("id: %w", err)
	}
	us := uint16(now.Nanosecond() / 1000 % 1000) // 10 bits
	u[6] = byte(us >> 2)
	u[7] = byte(us<<6) | u[7]&0x3f
	if u.Compare(g.last) <= 0 {
		// Same microsecond, or a clock that stepped back: follow the previous ID.
		u = g.last
		for i := len(u) - 1; i >= 0; i-- {
			u[i]++
			if u[i] != 0 {
				break
			}
		}
	}
	g.last = u
	var b strings.Builder
	b.Grow(len(p) + 1 + BodyLen)
	b.WriteString(string(p))
	b.WriteByte('_')
	b.WriteString(u.String())
	b.WriteString(tag)
	return b.String(), nil
}

// Check reports whether s is a well-formed ID with prefix want (with any prefix when want is
// ""). The error is a *store.Error naming no field; see CheckArg.
func Check(s string, want Prefix) error {
	p, body, ok := strings.Cut(s, "_")
	if !ok {
		return invalid(s, want, "missing prefix")
	}
	if want != "" && Prefix(p) != want {
		return invalid(s, want, "another type's prefix")
	}
	return checkBody(s, want, body)
}

func checkBody(s string, want Prefix, body string) error {
	if len(body) != BodyLen {
		return invalid(s, want, fmt.Sprintf("body is %d characters, want %d", len(body), BodyLen))
	}
	if body[0] > '7' {
		return invalid(s, want, "time part overflows")
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(crockford, body[i]) < 0 {
			return invalid(s, want, fmt.Sprintf("character %d is not in the ID alphabet", i+len(s)-len(body)))
		}
	}
	return nil
}

// PrefixOf returns the prefix of a well-formed ID of any known type.
func PrefixOf(s string) (Prefix, error) {
	p, _, ok := strings.Cut(s, "_")
	if !ok {
		return "", invalid(s, "", "missing prefix")
	}
	switch pp := Prefix(p); pp {
	case Account, User, BotUser, Authtoken, APIKey, AccessToken, SSHCredential, Role, IdentityProvider, Invitation, Event, Session,
		EventDestination, EventSubscription, DeadLetter, Group, Domain,
		IPPolicy, IPPolicyRule, IPRestriction:
		return pp, Check(s, pp)
	}
	return "", invalid(s, "", fmt.Sprintf("unknown prefix %q", p))
}

// reservedTime is the time part of reserved ID bodies: zero.
const reservedTime = "0000000000"

// Reserved reports whether s is an ID (or an ID body) whose time part is zero: a Generator
// never makes one, so such an ID names nothing. Test tokens for secret scanners carry one.
func Reserved(s string) bool {
	if _, body, ok := strings.Cut(s, "_"); ok {
		s = body
	}
	return len(s) == BodyLen && strings.HasPrefix(s, reservedTime)
}

// Body returns the part of a well-formed ID after the underscore.
func Body(s string) string {
	_, body, _ := strings.Cut(s, "_")
	return body
}

// Tag returns the shard tag of an ID: its last TagLen characters. It does not validate s.
func Tag(s string) string {
	if len(s) < TagLen {
		return ""
	}
	return s[len(s)-TagLen:]
}

// Time returns the creation time encoded in a well-formed ID, to the millisecond.
func Time(s string) (time.Time, error) {
	body := Body(s)
	if len(body) != BodyLen {
		return time.Time{}, invalid(s, "", "not an id")
	}
	u, err := ulid.ParseStrict(body[:ulidLen])
	if err != nil {
		return time.Time{}, invalid(s, "", err.Error())
	}
	return ulid.Time(u.Time()), nil
}

func invalid(_ string, want Prefix, reason string) error {
	if want != "" {
		return store.Invalid("", store.CodeInvalidValue, 0, "invalid %s_ id: %s", want, reason)
	}
	return store.Invalid("", store.CodeInvalidValue, 0, "invalid id: %s", reason)
}

// CheckArg is Check for an argument: its error names field, the argument's name in the API
// (such as "bot_user_id").
func CheckArg(field, s string, want Prefix) error {
	err := Check(s, want)
	if se, ok := err.(*store.Error); ok {
		se.Field = field
	}
	return err
}

// CheckPage returns an error unless p's limit is between 1 and store.MaxPageLimit and its
// BeforeID, if any, is an ID with prefix want: the check every listing makes before reading.
func CheckPage(p store.Page, want Prefix) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.BeforeID != "" {
		return CheckArg("before_id", p.BeforeID, want)
	}
	return nil
}

// Floor returns a string that sorts before every ID with prefix p made at t or later (and
// after every ID made before t's millisecond): a lower bound for listings by ID from a time.
// It is not itself an ID.
func Floor(p Prefix, t time.Time) string {
	var u ulid.ULID
	ms := ulid.Timestamp(t)
	if t.Before(time.UnixMilli(1)) {
		ms = 1
	}
	_ = u.SetTime(ms)
	return string(p) + "_" + u.String()
}
