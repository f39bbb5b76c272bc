package id_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamkit/iamkit/internal/clock"
	"github.com/iamkit/iamkit/internal/id"
	"github.com/iamkit/iamkit/store"
)

// wantInvalid fails unless err is a *store.Error matching store.ErrInvalid with code
// store.CodeInvalidValue.
func wantInvalid(t *testing.T, err error) {
	t.Helper()
	var se *store.Error
	if !errors.Is(err, store.ErrInvalid) || !errors.As(err, &se) || se.Code != store.CodeInvalidValue {
		t.Fatalf("error %v is not a *store.Error matching ErrInvalid with code %s", err, store.CodeInvalidValue)
	}
}

// leaks reports whether the rendered error contains s: a redaction check (an error must not
// repeat its input), never a way to tell errors apart.
func leaks(err error, s string) bool { return strings.Contains(fmt.Sprint(err), s) }

func newGen(t *testing.T) (*id.Generator, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	return id.NewGenerator(clk, rand.Reader), clk
}

func TestIDsSortInCreationOrder(t *testing.T) {
	g, clk := newGen(t)
	var ids []string
	for i := range 5000 {
		if i%1000 == 0 {
			clk.Advance(time.Millisecond)
		}
		if i == 2500 {
			clk.Advance(-time.Hour) // a clock that steps back must not reorder IDs
		}
		s, err := g.New(id.BotUser)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s)
	}
	if !slices.IsSorted(ids) {
		t.Fatal("IDs made one after another do not sort in creation order")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatal("duplicate IDs")
	}
}

func TestConcurrentIDsAreUnique(t *testing.T) {
	g, _ := newGen(t)
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				s, err := g.New(id.Event)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[s] {
					t.Errorf("duplicate %s", s)
				}
				seen[s] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestNewInCarriesTheAccountTag(t *testing.T) {
	g, clk := newGen(t)
	acct, err := g.New(id.Account)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := g.NewIn(id.Authtoken, acct)
	if err != nil {
		t.Fatal(err)
	}
	if id.Tag(cred) != id.Tag(acct) {
		t.Errorf("Tag(%s) = %q, want the account's %q", cred, id.Tag(cred), id.Tag(acct))
	}
	if err := id.Check(cred, id.Authtoken); err != nil {
		t.Errorf("Check(%s) = %v", cred, err)
	}
	when, err := id.Time(cred)
	if err != nil || !when.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Errorf("Time = %v, %v; want %v", when, err, clk.Now())
	}
	_, err = g.NewIn(id.Authtoken, "usr_nope")
	wantInvalid(t, err)
}

func TestCheck(t *testing.T) {
	g, _ := newGen(t)
	good, err := g.New(id.User)
	if err != nil {
		t.Fatal(err)
	}
	body := id.Body(good)
	tests := []struct {
		name string
		in   string
		want id.Prefix
		ok   bool
	}{
		{"good", good, id.User, true},
		{"any prefix", good, "", true},
		{"wrong prefix", "bot_" + body, id.User, false},
		{"no prefix", body, id.User, false},
		{"empty", "", id.User, false},
		{"short body", "usr_" + body[:29], id.User, false},
		{"long body", "usr_" + body + "0", id.User, false},
		{"lower case", "usr_" + strings.ToLower(body), id.User, false},
		{"excluded letter U", "usr_" + body[:10] + "U" + body[11:], id.User, false},
		{"time overflow", "usr_8" + body[1:], id.User, false},
		{"token pasted as id", "iat_" + body + "_secretsecretsecret", id.User, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := id.Check(tt.in, tt.want)
			if tt.ok != (err == nil) {
				t.Fatalf("Check(%q, %q) = %v, want ok=%v", tt.in, tt.want, err, tt.ok)
			}
			if err == nil {
				return
			}
			wantInvalid(t, err)
			if leaks(err, "secret") {
				t.Errorf("error repeats its input: %v", err)
			}
		})
	}
}

func TestPrefixOf(t *testing.T) {
	g, _ := newGen(t)
	for _, p := range []id.Prefix{id.Account, id.User, id.BotUser, id.Authtoken, id.APIKey, id.AccessToken, id.SSHCredential, id.Role, id.IdentityProvider, id.Invitation, id.Event, id.Session, id.EventDestination, id.EventSubscription, id.DeadLetter, id.Group, id.Domain, id.IPPolicy, id.IPPolicyRule, id.IPRestriction} {
		s, err := g.New(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := id.PrefixOf(s); err != nil || got != p {
			t.Errorf("PrefixOf(%s) = %q, %v", s, got, err)
		}
	}
	_, err := id.PrefixOf("zz_" + strings.Repeat("0", id.BodyLen))
	wantInvalid(t, err)
}

func FuzzCheck(f *testing.F) {
	g := id.NewGenerator(clock.System{}, rand.Reader)
	good, _ := g.New(id.Account)
	for _, s := range []string{good, "", "_", "ac_", "ac__", good + good, "usr_" + id.Body(good)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := id.Check(s, "")
		if err != nil {
			wantInvalid(t, err)
		}
		if err == nil {
			if len(id.Body(s)) != id.BodyLen || id.Tag(s) != s[len(s)-id.TagLen:] {
				t.Fatalf("accepted %q with a malformed body", s)
			}
			if _, err := id.Time(s); err != nil {
				t.Fatalf("accepted %q but Time fails: %v", s, err)
			}
		}
		id.PrefixOf(s)
	})
}

func TestGeneratorsOfAProcessAgreeOnOrder(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	a, b := id.NewGenerator(clk, rand.Reader), id.NewGenerator(clk, rand.Reader)
	var ids []string
	for i := range 200 {
		clk.Advance(time.Microsecond) // many IDs in one millisecond, alternating generators
		g := a
		if i%2 == 1 {
			g = b
		}
		s, err := g.New(id.Event)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s)
	}
	if !slices.IsSorted(ids) {
		t.Fatal("IDs from two generators, a microsecond apart, do not sort in creation order")
	}
}

// TestReservedBodies covers the IDs reserved for test tokens: those whose time part is zero.
// A Generator never makes one, whatever its clock says, and Reserved tells them apart.
func TestReservedBodies(t *testing.T) {
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"unix_epoch", time.Unix(0, 0)},
		{"before_the_epoch", time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)},
		{"within_the_first_millisecond", time.Unix(0, 999_999)},
		{"now", time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := id.NewGenerator(clock.NewFake(c.at), rand.Reader)
			for range 3 {
				s, err := g.New(id.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if id.Reserved(s) {
					t.Fatalf("the generator made %s, a reserved ID, at %v", s, c.at)
				}
			}
		})
	}
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"pat_0000000000" + strings.Repeat("A", 16) + "TEST", true},
		{"cr_0000000000" + strings.Repeat("0", 20), true},
		{"pat_0000000001" + strings.Repeat("A", 16) + "TEST", false},
		{"pat_", false},
		{"", false},
	} {
		if got := id.Reserved(c.s); got != c.want {
			t.Errorf("Reserved(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

// TestFloor: the floor of a time sorts after IDs made before its millisecond and before IDs
// made in it or later.
func TestFloor(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 500_000_000, time.UTC)
	gen := func(when time.Time) string {
		s, err := id.NewGenerator(clock.NewFake(when), rand.Reader).New(id.Event)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	floor := id.Floor(id.Event, at)
	for _, c := range []struct {
		when   time.Time
		before bool
	}{{at.Add(-time.Millisecond), true}, {at, false}, {at.Add(999 * time.Microsecond), false}, {at.Add(time.Hour), false}} {
		if got := gen(c.when) < floor; got != c.before {
			t.Errorf("ID made at %v sorts before the floor of %v: %v, want %v", c.when, at, got, c.before)
		}
	}
}
