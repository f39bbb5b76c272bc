package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"iter"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// EnvChromium names the environment variable that gives the Chromium (or Chrome) binary to
// run, instead of the first of chromium, chromium-browser, google-chrome and headless-shell
// on PATH.
const EnvChromium = "IAMKIT_CHROMIUM"

// EnvArtifacts names the environment variable that gives the directory where a failing test
// leaves its screenshot; the system's temporary directory when unset.
const EnvArtifacts = "IAMKIT_BROWSERTEST_DIR"

// Viewport widths, in CSS pixels, for ScreenshotAt and SetViewport.
const (
	MobileWidth  = 375
	DesktopWidth = 1280
)

// Viewport heights that go with the widths above.
const (
	mobileHeight  = 812
	desktopHeight = 800
)

// DefaultTimeout bounds each method of a Browser unless Browser.Timeout says otherwise.
const DefaultTimeout = 15 * time.Second

// startTimeout bounds starting Chromium and opening a browser context in it.
const startTimeout = 60 * time.Second

// ErrUnavailable is matched by the errors of Launch when no Chromium is found.
var ErrUnavailable = errors.New("browsertest: no Chromium available")

// Require fails or skips t on an error from Launch: it skips when the error matches
// ErrUnavailable and CI is not set, and fails otherwise.
func Require(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") == "":
		t.Skipf("%v; skipping", err)
	case errors.Is(err, ErrUnavailable):
		t.Fatalf("%v (CI is set, so this fails instead of skipping)", err)
	default:
		t.Fatalf("browsertest: %v", err)
	}
}

// Shared is one Chromium for the tests of a binary, started by the first New. Its zero value
// is ready to use; the test binary must Close it after m.Run. It is safe for concurrent use.
type Shared struct {
	once sync.Once
	c    *Chromium
	err  error
}

// New returns a browser of t's own in the shared Chromium, started if needed. It skips t when
// there is no Chromium (fails it when CI is set).
func (s *Shared) New(t testing.TB) *Browser {
	t.Helper()
	s.once.Do(func() { s.c, s.err = Launch() })
	Require(t, s.err)
	return s.c.New(t)
}

// Close stops the Chromium if New started it.
func (s *Shared) Close() {
	s.once.Do(func() { s.err = errors.New("browsertest: Shared is closed") })
	if s.c != nil {
		s.c.Close()
	}
}

// Chromium is a running headless Chromium.
type Chromium struct {
	allocCancel   context.CancelFunc
	browserCtx    context.Context
	browserCancel context.CancelFunc
}

// Launch starts a headless Chromium. The caller must Close it.
func Launch() (*Chromium, error) {
	bin, err := findChromium()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(DesktopWidth, desktopHeight),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, browserCancel := chromedp.NewContext(allocCtx)
	c := &Chromium{allocCancel: allocCancel, browserCtx: browserCtx, browserCancel: browserCancel}
	// The first Do starts the browser and ties it to browserCtx, so it must not run under a
	// timeout of its own; a watchdog bounds it instead.
	if err := withWatchdog(browserCtx, browserCancel, func() error { return chromedp.Do(browserCtx) }); err != nil {
		c.Close()
		return nil, fmt.Errorf("browsertest: starting %s: %w", bin, err)
	}
	return c, nil
}

// closeTimeout bounds the graceful close of Chromium, after which it is killed.
const closeTimeout = 10 * time.Second

// Close stops Chromium and every process it started, and removes its profile directory. It
// asks Chromium to close (Browser.close), so that Chromium itself ends and reaps its
// renderer, GPU and zygote processes, and kills it only if it has not ended in time: when
// only the main process is killed, its children end later as orphans.
func (c *Chromium) Close() {
	ctx, cancel := context.WithTimeout(c.browserCtx, closeTimeout)
	defer cancel()
	_ = chromedp.Cancel(ctx)
	c.browserCancel()
	c.allocCancel()
}

// New opens a browser for t: a new browser context (an incognito profile: no cookies,
// storage or cache shared with other Browsers) with one tab, whose viewport is DesktopWidth
// wide. It is closed when t ends.
func (c *Chromium) New(t testing.TB) *Browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.browserCtx, chromedp.WithNewBrowserContext())
	b := &Browser{Timeout: DefaultTimeout, t: t, ctx: ctx, width: DesktopWidth, height: desktopHeight}
	t.Cleanup(cancel)
	// The tab is created by the first Do and lives as long as the context of that call.
	err := withWatchdog(ctx, cancel, func() error {
		return chromedp.Do(ctx, chromedp.EmulateViewport(DesktopWidth, desktopHeight))
	})
	if err != nil {
		t.Fatalf("browsertest: opening a browser context: %v", err)
	}
	return b
}

// withWatchdog runs fn, which must stop when ctx ends, and cancels ctx if fn has not returned
// within startTimeout.
func withWatchdog(ctx context.Context, cancel context.CancelFunc, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		cancel()
		<-done
		return fmt.Errorf("not done within %v", startTimeout)
	case <-ctx.Done():
		<-done
		return ctx.Err()
	}
}

// Browser is one test's browser: a tab in a browser context of its own. Its methods fail the
// test on error and must be called from the test's goroutine.
type Browser struct {
	// Timeout bounds each method; DefaultTimeout unless set.
	Timeout time.Duration

	t             testing.TB
	ctx           context.Context
	width, height int
}

// Context returns the chromedp context of the browser's tab, for actions this package has no
// method for. It ends with the test.
func (b *Browser) Context() context.Context { return b.ctx }

// Navigate loads u and waits for the document to load; it returns the document's HTTP status
// (0 for a URL without one, such as about:blank).
func (b *Browser) Navigate(u string) int {
	b.t.Helper()
	resp, err := run(b, chromedp.NavigateResponse(u))
	if err != nil {
		b.fail("Navigate("+u+")", err)
	}
	return status(resp)
}

// Click clicks the element sel, once it is visible, and returns without waiting for anything
// the click starts.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	if err := do(b, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.fail("Click("+sel+")", err)
	}
}

// ClickAndWait clicks the element sel, a link or a button that navigates, and waits for the
// new document to load; it returns the document's HTTP status.
func (b *Browser) ClickAndWait(sel string) int {
	b.t.Helper()
	resp, err := runResponse(b, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.fail("ClickAndWait("+sel+")", err)
	}
	return status(resp)
}

// Fill replaces the value of the input or textarea sel by typing value into it, as a person
// would (key events, so the page's input handlers run).
func (b *Browser) Fill(sel, value string) {
	b.t.Helper()
	if err := do(b, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
		b.fail("Fill("+sel+")", err)
	}
}

// Submit submits the form of the element sel (the form itself or a field in it) without
// clicking, as form.submit() does, and waits for the answer to load; it returns the
// document's HTTP status. To go through the page's submit handlers, ClickAndWait its button.
func (b *Browser) Submit(sel string) int {
	b.t.Helper()
	resp, err := runResponse(b, chromedp.Submit(chromedp.CSS(sel)))
	if err != nil {
		b.fail("Submit("+sel+")", err)
	}
	return status(resp)
}

// Text returns the visible text of the element sel (its innerText), once it is visible.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := run(b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fail("Text("+sel+")", err)
	}
	return s
}

// WaitVisible waits until the element sel is in the document and visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	if err := do(b, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fail("WaitVisible("+sel+")", err)
	}
}

// CurrentURL returns the URL of the current document.
func (b *Browser) CurrentURL() string {
	b.t.Helper()
	u, err := run(b, chromedp.Location())
	if err != nil {
		b.fail("CurrentURL", err)
	}
	return u
}

// URLMatcher tells whether a URL is the one a test waits for; String says which it is.
type URLMatcher interface {
	Match(u *url.URL) bool
	String() string
}

type pathMatcher string

func (p pathMatcher) Match(u *url.URL) bool { return u.Path == string(p) }
func (p pathMatcher) String() string        { return "path " + string(p) }

// HasPath matches a URL whose path is path, whatever its host and query.
func HasPath(path string) URLMatcher { return pathMatcher(path) }

type prefixMatcher string

func (p prefixMatcher) Match(u *url.URL) bool { return strings.HasPrefix(u.String(), string(p)) }
func (p prefixMatcher) String() string        { return "prefix " + string(p) }

// HasPrefix matches a URL that starts with prefix.
func HasPrefix(prefix string) URLMatcher { return prefixMatcher(prefix) }

// WaitURL waits until the main frame is at a URL m matches, now or after navigations the page
// makes by itself, and until that document's body exists; it returns the URL.
func (b *Browser) WaitURL(m URLMatcher) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout())
	defer cancel()
	// Subscribe before looking at the current URL, so that no navigation falls in between.
	navigations := chromedp.Events(ctx, page.FrameNavigated)
	found := ""
	if cur, err := chromedp.Run(ctx, chromedp.Location()); err == nil && matches(m, cur) {
		found = cur
	}
	if found == "" {
		found = b.nextURL(m, navigations)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		b.fail("WaitURL("+m.String()+"): the body of "+found, err)
	}
	return found
}

// nextURL returns the URL of the first navigation of the main frame that m matches, failing
// the test when the events end first (the timeout).
func (b *Browser) nextURL(m URLMatcher, navigations iter.Seq2[page.EventFrameNavigated, error]) string {
	b.t.Helper()
	for ev, err := range navigations {
		if err != nil {
			b.fail("WaitURL("+m.String()+")", err)
		}
		if ev.Frame != nil && ev.Frame.ParentID == "" && matches(m, ev.Frame.URL) {
			return ev.Frame.URL
		}
	}
	b.fail("WaitURL("+m.String()+")", errors.New("the page's events ended"))
	return ""
}

func matches(m URLMatcher, s string) bool {
	u, err := url.Parse(s)
	return err == nil && m.Match(u)
}

// SetViewport sets the tab's viewport, in CSS pixels (at a device scale factor of 1, so a
// screenshot is as many pixels wide). The page lays out at that width whatever its meta
// viewport says; there is no touch or mobile user agent emulation.
func (b *Browser) SetViewport(width, height int) {
	b.t.Helper()
	if err := do(b, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		b.fail(fmt.Sprintf("SetViewport(%d, %d)", width, height), err)
	}
	b.width, b.height = width, height
}

// Screenshot writes a PNG of the whole page (not only the viewport) at the current viewport
// width to path.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	img, err := run(b, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, img, 0o644)
	}
	if err != nil {
		b.fail("Screenshot("+path+")", err)
	}
}

// ScreenshotAt is Screenshot with the viewport width set to width for the shot (MobileWidth
// or DesktopWidth, say), and set back afterwards.
func (b *Browser) ScreenshotAt(path string, width int) {
	b.t.Helper()
	w, h := b.width, b.height
	height := desktopHeight
	if width < 600 {
		height = mobileHeight
	}
	b.SetViewport(width, height)
	b.Screenshot(path)
	b.SetViewport(w, h)
}

func (b *Browser) timeout() time.Duration {
	if b.Timeout <= 0 {
		return DefaultTimeout
	}
	return b.Timeout
}

// fail ends the test with what it was doing, the page's URL and a screenshot of the page.
func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	where, uerr := chromedp.Run(ctx, chromedp.Location())
	if uerr != nil {
		where = "unknown (" + uerr.Error() + ")"
	}
	b.t.Fatalf("browsertest: %s: %v\n\tpage: %s\n\tscreenshot: %s", what, err, where, b.failureScreenshot(ctx))
}

// failureScreenshot saves a screenshot of the page for a failing test and returns its path,
// or why there is none.
func (b *Browser) failureScreenshot(ctx context.Context) string {
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none: " + err.Error()
	}
	if _, err := png.DecodeConfig(bytes.NewReader(img)); err != nil {
		return "none: " + err.Error()
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = os.TempDir()
	}
	name := unsafeChars.ReplaceAllString(b.t.Name(), "_")
	f, err := os.CreateTemp(dir, "browsertest-"+name+"-*.png")
	if err != nil {
		return "none: " + err.Error()
	}
	defer f.Close()
	if _, err := f.Write(img); err != nil {
		return "none: " + err.Error()
	}
	return f.Name()
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// run runs one action under the browser's timeout.
func run[T any](b *Browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout())
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs actions that return nothing under the browser's timeout.
func do(b *Browser, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout())
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// runResponse runs steps that start a navigation and waits for its document under the
// browser's timeout.
func runResponse(b *Browser, steps ...chromedp.Action[chromedp.Void]) (*network.Response, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout())
	defer cancel()
	return chromedp.RunResponse(ctx, steps...)
}

func status(r *network.Response) int {
	if r == nil {
		return 0
	}
	return int(r.Status)
}

// findChromium returns the browser binary to run, or an error matching ErrUnavailable.
func findChromium() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrUnavailable, EnvChromium, p, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if path, err := exec.LookPath(name); err == nil {
			return filepath.Clean(path), nil
		}
	}
	return "", fmt.Errorf("%w: none of chromium, chromium-browser, google-chrome, headless-shell is on PATH and %s is not set (Debian: apt-get install chromium)", ErrUnavailable, EnvChromium)
}
