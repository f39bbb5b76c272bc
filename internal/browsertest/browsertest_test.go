package browsertest

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// browsers is the Chromium the tests of this binary share.
var browsers Shared

func TestMain(m *testing.M) {
	code := m.Run()
	browsers.Close()
	os.Exit(code)
}

// site serves the pages of the tests: a form that posts to /greet, which redirects (303) to
// /hello, a greeting page taller than the viewport, a page that moves on by itself, and a
// cookie setter and reader.
func site(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>%s</title></head><body>%s</body></html>`, title, body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Form", `<h1 id="title">Who are you?</h1><form id="f" method="post" action="/greet"><input id="name" name="name" value="placeholder"><button id="go" type="submit">Go</button></form>`)
	})
	mux.HandleFunc("POST /greet", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello?name="+url.QueryEscape(r.PostFormValue("name")), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Hello", `<h1 id="greeting">Hello, `+html.EscapeString(r.URL.Query().Get("name"))+`</h1><div style="height:2000px;background:linear-gradient(#fff,#36c)">tall</div><p id="end">end</p>`)
	})
	mux.HandleFunc("GET /later", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Later", `<p id="wait">moving on</p><script>setTimeout(function () { location.href = "/hello?name=Later"; }, 300);</script>`)
	})
	mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "kept", Path: "/"})
		page(w, "Set", `<p id="done">set</p>`)
	})
	mux.HandleFunc("GET /show", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		v := "none"
		if err == nil {
			v = c.Value
		}
		page(w, "Show", `<p id="cookie">`+html.EscapeString(v)+`</p>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestFormRedirectAndScreenshots fills a form, follows the 303 after its post, reads the next
// page and takes full-page screenshots at both widths.
func TestFormRedirectAndScreenshots(t *testing.T) {
	srv := site(t)
	b := browsers.New(t)
	if got := b.Navigate(srv.URL + "/"); got != http.StatusOK {
		t.Fatalf("Navigate: status %d", got)
	}
	if got := b.Text("#title"); got != "Who are you?" {
		t.Errorf("title %q", got)
	}
	b.Fill("#name", "Ada & Charles")
	if got := b.ClickAndWait("#go"); got != http.StatusOK {
		t.Errorf("ClickAndWait: status %d, want 200 (the page after the 303)", got)
	}
	if got := b.CurrentURL(); got != srv.URL+"/hello?name=Ada+%26+Charles" {
		t.Errorf("CurrentURL %q", got)
	}
	if got := b.Text("#greeting"); got != "Hello, Ada & Charles" {
		t.Errorf("greeting %q (Fill must replace the field's value)", got)
	}

	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		shoot func(path string)
		width int
	}{
		{"desktop", b.Screenshot, DesktopWidth},
		{"mobile", func(p string) { b.ScreenshotAt(p, MobileWidth) }, MobileWidth},
		{"desktop again", b.Screenshot, DesktopWidth}, // ScreenshotAt put the viewport back
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".png")
			tt.shoot(path)
			w, h := pngSize(t, path)
			if w != tt.width || h < 2000 {
				t.Errorf("%s is %dx%d, want %d wide and the whole page (over 2000 high)", path, w, h, tt.width)
			}
		})
	}
}

// TestSubmit submits the form without clicking.
func TestSubmit(t *testing.T) {
	srv := site(t)
	b := browsers.New(t)
	b.Navigate(srv.URL + "/")
	b.Fill("#name", "Grace")
	if got := b.Submit("#name"); got != http.StatusOK {
		t.Errorf("Submit: status %d", got)
	}
	if got := b.Text("#greeting"); got != "Hello, Grace" {
		t.Errorf("greeting %q", got)
	}
}

// TestWaitURL waits for a navigation the page starts by itself.
func TestWaitURL(t *testing.T) {
	srv := site(t)
	b := browsers.New(t)
	b.Navigate(srv.URL + "/later")
	got := b.WaitURL(HasPath("/hello"))
	if got != srv.URL+"/hello?name=Later" {
		t.Errorf("WaitURL = %q", got)
	}
	if text := b.Text("#greeting"); text != "Hello, Later" {
		t.Errorf("greeting %q", text)
	}
	// A URL that matches already returns at once.
	if again := b.WaitURL(HasPrefix(srv.URL + "/hello")); again != got {
		t.Errorf("WaitURL on the current page = %q, want %q", again, got)
	}
}

// TestBrowsersShareNoCookies checks that each Browser has a profile of its own.
func TestBrowsersShareNoCookies(t *testing.T) {
	srv := site(t)
	first, second := browsers.New(t), browsers.New(t)
	first.Navigate(srv.URL + "/set")
	first.Navigate(srv.URL + "/show")
	if got := first.Text("#cookie"); got != "kept" {
		t.Fatalf("the browser that set the cookie reads %q", got)
	}
	second.Navigate(srv.URL + "/show")
	if got := second.Text("#cookie"); got != "none" {
		t.Errorf("another browser reads the cookie: %q", got)
	}
}

// TestFailureReportsURLAndScreenshot makes a method fail and checks what the test is told.
func TestFailureReportsURLAndScreenshot(t *testing.T) {
	srv := site(t)
	t.Setenv(EnvArtifacts, t.TempDir())
	b := browsers.New(t)
	b.Navigate(srv.URL + "/")
	b.Timeout = 500 * time.Millisecond
	rec := &recorder{TB: t}
	b.t = rec
	var wg sync.WaitGroup
	wg.Go(func() { b.Text("#missing") }) // Fatalf ends this goroutine, as it ends a test's
	wg.Wait()
	b.t = t
	if !rec.failed {
		t.Fatal("Text of a missing element did not fail the test")
	}
	if !strings.Contains(rec.msg, "page: "+srv.URL+"/") {
		t.Errorf("the failure does not give the page's URL: %s", rec.msg)
	}
	_, path, ok := strings.Cut(rec.msg, "screenshot: ")
	if !ok {
		t.Fatalf("the failure gives no screenshot: %s", rec.msg)
	}
	if filepath.Dir(path) != os.Getenv(EnvArtifacts) {
		t.Errorf("screenshot %s is not in %s", path, EnvArtifacts)
	}
	if w, _ := pngSize(t, path); w != DesktopWidth {
		t.Errorf("the failure screenshot is %d wide", w)
	}
}

// recorder is a testing.TB whose Fatalf records the message and ends the goroutine.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

// TestUnavailable points EnvChromium at nothing: Launch says so with ErrUnavailable, which
// Require turns into a skip (or, in CI, a failure).
func TestUnavailable(t *testing.T) {
	t.Setenv(EnvChromium, filepath.Join(t.TempDir(), "no-chromium"))
	if c, err := Launch(); !errors.Is(err, ErrUnavailable) {
		if c != nil {
			c.Close()
		}
		t.Errorf("Launch without Chromium = %v, want ErrUnavailable", err)
	}
}
