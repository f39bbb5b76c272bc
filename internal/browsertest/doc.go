// Package browsertest drives a real headless Chromium for tests, through the Chrome DevTools
// Protocol with github.com/chromedp/chromedp.
//
// One Chromium serves a whole test binary and each test gets a browser of its own: a fresh
// browser context, Chromium's incognito profile, so tests share no cookies, storage or cache.
// The test binary holds the Chromium in a Shared, started on first use and closed after
// m.Run:
//
//	var browsers browsertest.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		browsers.Close()
//		os.Exit(code)
//	}
//
//	func TestSignIn(t *testing.T) {
//		b := browsers.New(t) // skips (fails in CI) when there is no Chromium
//		b.Navigate(srv.URL + "/login")
//		b.Fill("#username", "ada")
//		b.Fill("#password", "correct horse")
//		b.ClickAndWait("#submit")
//		b.WaitURL(browsertest.HasPath("/dashboard"))
//		if got := b.Text("h1"); got != "Dashboard" { ... }
//	}
//
// Launch and Chromium.New do the same without the Shared. When no Chromium is found
// (IAMKIT_CHROMIUM, else chromium, chromium-browser, google-chrome or headless-shell on PATH)
// New skips the test with a message, except when the CI environment variable is set: then
// it fails, as internal/redistest does.
//
// Chromium runs headless with --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync and chromedp's
// other quiet defaults, in a new empty --user-data-dir that chromedp removes when it stops.
// It talks to chromedp over a pipe, not a port. Close stops it and every process it started;
// the kernel kills it too (Pdeathsig) if the test binary dies first.
//
// # Selectors, timeouts and failures
//
// Selectors are CSS selectors. Every method is bounded by Browser.Timeout (15 seconds unless
// changed) and, on error, fails the test with the page's URL and the path of a full-page
// screenshot taken at that moment, which is kept (in IAMKIT_BROWSERTEST_DIR, else the
// system's temporary directory) so that a failure can be looked at.
//
// # Waiting for navigation
//
// Nothing here sleeps. A method that starts a navigation either waits for it or leaves the
// waiting to the next call, which always waits for what it needs:
//
//   - Navigate, ClickAndWait and Submit return once the new document has loaded (chromedp's
//     RunResponse: the load event of the navigation they start), with its HTTP status. A
//     redirect (a 303 after a form post) is part of the navigation: the status is that of
//     the last document. Use ClickAndWait only for a click that navigates: it waits for a
//     navigation until the timeout.
//   - Click, Fill, Text and WaitVisible find their element in the current document and wait
//     until it is visible, across navigations. After a click that navigates, wait for an
//     element that only the next page has; an element both pages share may be found on the
//     old one.
//   - WaitURL waits until the main frame has navigated to a matching URL (Page.frameNavigated
//     events), for navigations the page starts by itself: a script, a meta refresh, or a
//     chain of them such as SAML's auto-submitting response form, whose first load
//     ClickAndWait would stop at.
package browsertest
