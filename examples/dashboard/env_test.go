package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/internal/browsertest"
	"github.com/iamkit/iamkit/internal/dnstest"
	"github.com/iamkit/iamkit/sso"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// browsers is the one Chromium the browser tests of this binary share; each test gets a
// browser context (an incognito profile) of its own.
var browsers browsertest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	os.Exit(code)
}

// password is every test person's password.
const password = "correct horse battery staple"

// fastHashing makes password hashing cheap: tests sign in many times.
var fastHashing = sso.WithPasswordParams(sso.PasswordParams{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})

// outbox is the Mailer of the tests: it keeps what the dashboard sends.
type outbox struct {
	mu    sync.Mutex
	mails []Mail
}

func (o *outbox) Send(_ context.Context, m Mail) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

// last returns the latest mail to an address, failing the test if there is none.
func (o *outbox) last(t testing.TB, to string) Mail {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.mails) - 1; i >= 0; i-- {
		if o.mails[i].To == to {
			return o.mails[i]
		}
	}
	t.Fatalf("no mail to %s", to)
	return Mail{}
}

func (o *outbox) count(to string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.mails {
		if m.To == to {
			n++
		}
	}
	return n
}

// env is a dashboard on a memstore, served on a loopback port, with its bootstrapped
// account and administrator (admin@example.test, whose password is set).
type env struct {
	t    testing.TB
	ctx  context.Context
	app  *app
	URL  string
	mail *outbox
	dns  *dnstest.Server // answers the TXT records that verify domains
}

const adminEmail = "admin@example.test"

func newEnv(t testing.TB) *env {
	t.Helper()
	e := newEnvWithoutPassword(t)
	e.setPassword(e.app.Boot.Admin.ID)
	return e
}

// newEnvWithoutPassword is newEnv on a first start: the administrator has no password yet.
func newEnvWithoutPassword(t testing.TB) *env {
	t.Helper()
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st)
}

// newEnvOn is newEnvWithoutPassword on a store of the test's.
func newEnvOn(t testing.TB, st store.Store) *env {
	t.Helper()
	ctx := t.Context()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	key := make([]byte, sso.SecretKeyLen)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	ob := &outbox{}
	dns := dnstest.Start(t)
	a, err := newApp(ctx, appConfig{Store: st, BaseURL: base, Mailer: ob, Logger: slog.New(slog.DiscardHandler), SecretKey: key,
		AdminEmail: adminEmail, Dashboard: []sso.DashboardOption{fastHashing}, Resolver: dns.Resolver()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.IAM.Close(context.Background()) })
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &env{t: t, ctx: ctx, app: a, URL: base, mail: ob, dns: dns}
}

func (e *env) account() string { return e.app.Boot.Account.ID }

// setPassword gives a user the tests' password.
func (e *env) setPassword(userID string) {
	e.t.Helper()
	if err := e.app.IAM.Dashboard().SetInitialPassword(e.ctx, userID, password); err != nil {
		e.t.Fatal(err)
	}
}

// addMember makes a user with the tests' password a member of the account with roles.
func (e *env) addMember(email string, roles ...string) store.User {
	e.t.Helper()
	u, err := e.app.IAM.Directory().CreateUser(e.ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.IAM.Directory().AddMember(e.ctx, e.app.Boot.Admin, u.ID, roles); err != nil {
		e.t.Fatal(err)
	}
	e.setPassword(u.ID)
	e.sync()
	return u
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.app.IAM.Sync(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// principal returns the principal of a member, acting from code.
func (e *env) principal(userID string) identity.Principal {
	e.t.Helper()
	p, err := e.app.IAM.Directory().Principal(e.ctx, e.account(), userID, identity.SourceSDK, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// client is an HTTP client with a cookie jar, which keeps the dashboard's Secure cookies
// from its loopback address as browsers do, and does not follow redirects.
func (e *env) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signInBrowser signs a browser in with the password form of /login.
func (e *env) signInBrowser(b *browsertest.Browser, email string) {
	e.t.Helper()
	b.Navigate(e.URL + "/login")
	b.Fill("#email", email)
	b.Fill("#password", password)
	b.ClickAndWait("#sign-in")
}

// pageProblems is a script that lists what is wrong with the page for people using a
// keyboard or a screen reader: a control without a label (or a button without a name), a
// link of the error summary to no field, an image without alternative text.
const pageProblems = `(() => {
  const out = [];
  const labelled = el => el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.closest("label") ||
    (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!labelled(el)) out.push("no label: " + el.outerHTML.slice(0, 100));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!(el.textContent.trim() || el.getAttribute("aria-label"))) out.push("no name: " + el.outerHTML.slice(0, 100));
  }
  for (const a of document.querySelectorAll("#error-summary a")) {
    if (!document.getElementById(decodeURIComponent(a.hash.slice(1)))) out.push("error summary links to nothing: " + a.hash);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) out.push("image without alt: " + img.outerHTML.slice(0, 100));
  }
  return out;
})()`

// overflow is a script that says how much wider than the viewport the page is.
const overflow = `document.documentElement.scrollWidth - window.innerWidth`

// mobileShots are the pages whose screenshot is also taken at 375 px (every page is checked
// at that width).
var mobileShots = map[string]bool{
	"login": true, "members": true, "credential-created": true, "sso-chooser": true, "sso-settings": true, "security": true,
}

// checkPage fails the test if the page has a control without a label, a nameless button or
// link, an error summary that links to no field, or if it is wider than a 375 px screen.
// When IAMKIT_SCREENSHOTS=1 it also saves a screenshot as docs/screenshots/<name>.png (and
// <name>-375.png for the main pages); ordinary runs leave the committed files alone.
func checkPage(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.DefaultTimeout)
	defer cancel()
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](pageProblems))
	if err != nil {
		t.Fatalf("%s: checking the page: %v", name, err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", name, p)
	}
	b.SetViewport(browsertest.MobileWidth, 812)
	wider, err := chromedp.Run(ctx, chromedp.Evaluate[int](overflow))
	var culprits []string
	if err == nil && wider > 0 {
		culprits, _ = chromedp.Run(ctx, chromedp.Evaluate[[]string](tooWide))
	}
	b.SetViewport(browsertest.DesktopWidth, 800)
	if err != nil {
		t.Fatalf("%s: measuring the page: %v", name, err)
	}
	if wider > 0 {
		t.Errorf("%s: %d px wider than a 375 px screen, because of %q", name, wider, culprits)
	}
	if os.Getenv("IAMKIT_SCREENSHOTS") != "1" {
		return
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	shots := map[string]int{filepath.Join(dir, name+".png"): browsertest.DesktopWidth}
	if mobileShots[name] {
		shots[filepath.Join(dir, name+"-375.png")] = browsertest.MobileWidth
	}
	for path, width := range shots {
		b.ScreenshotAt(path, width)
		if err := shrinkPNG(path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

// tooWide is a script that names the elements that make the page wider than the viewport.
const tooWide = `Array.from(document.querySelectorAll("body *")).filter(e => e.scrollWidth > e.clientWidth + 1 &&
  getComputedStyle(e).overflowX === "visible").map(e => e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 40))`

// shrinkPNG rewrites a screenshot with a palette of its 256 most common colours (after
// dropping the low 3 bits of each channel), each pixel mapped to the nearest: a page of flat
// colours and anti-aliased text keeps its look at a third of the size or less.
func shrinkPNG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return err
	}
	key := func(c color.Color) uint32 {
		r, g, b, _ := c.RGBA()
		return (r>>11)<<10 | (g>>11)<<5 | b>>11
	}
	counts := map[uint32]int{}
	sums := map[uint32][3]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := img.At(x, y)
			k := key(c)
			counts[k]++
			r, g, b, _ := c.RGBA()
			s := sums[k]
			sums[k] = [3]int{s[0] + int(r>>8), s[1] + int(g>>8), s[2] + int(b>>8)}
		}
	}
	keys := make([]uint32, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b uint32) int { return counts[b] - counts[a] })
	pal := color.Palette{}
	for _, k := range keys[:min(256, len(keys))] {
		s, n := sums[k], counts[k]
		pal = append(pal, color.RGBA{uint8(s[0] / n), uint8(s[1] / n), uint8(s[2] / n), 255})
	}
	out := image.NewPaletted(bounds, pal)
	nearest := map[uint32]uint8{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := img.At(x, y)
			k := key(c)
			i, ok := nearest[k]
			if !ok {
				i = uint8(pal.Index(c))
				nearest[k] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// pathOf returns the path of a URL (its query too).
func pathOf(t testing.TB, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// contains fails the test unless the text holds every part.
func contains(t testing.TB, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s: %q does not say %q", what, text, p)
		}
	}
}
