package samltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvDir names the environment variable that points at SimpleSAMLphp's directory (the one
// holding www/), for a copy elsewhere than Debian's /usr/share/simplesamlphp.
const EnvDir = "IAMKIT_SIMPLESAMLPHP"

// defaultDir is where Debian's simplesamlphp package installs it.
const defaultDir = "/usr/share/simplesamlphp"

// startTimeout bounds how long php may take to serve the metadata after it starts.
const startTimeout = 20 * time.Second

// Attribute names the User fields are released under.
const (
	AttrEmail       = "email"
	AttrDisplayName = "displayName"
	AttrGroups      = "groups"
)

// NameIDFormatEmail is the NameID format an IdP here sends a registered SP.
const NameIDFormatEmail = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

// ErrUnavailable is matched by the errors of Launch when php or SimpleSAMLphp is missing.
var ErrUnavailable = errors.New("samltest: no SimpleSAMLphp available")

// ErrInvalid is matched by the errors of Launch and RegisterSP for a user or SP that lacks a
// required field or repeats another's name.
var ErrInvalid = errors.New("samltest: invalid user or SP")

// User is a person who can sign in at an IdP.
type User struct {
	// Username is what the login form takes. Required, without ':' (SimpleSAMLphp splits
	// "username:password" at the first one), unique among the IdP's users.
	Username string
	// Password is what the login form takes with Username. Required.
	Password string
	// Email is released as the email attribute and is the NameID. Required.
	Email string
	// DisplayName is released as the displayName attribute, when set.
	DisplayName string
	// Groups are released as the values of the groups attribute, when set.
	Groups []string
	// Attributes are released too, by SAML attribute name (for example
	// "eduPersonAffiliation"); a name here replaces the one a field above gives.
	Attributes map[string][]string
}

// String describes the user without the password.
func (u User) String() string {
	return fmt.Sprintf("samltest.User{Username:%q Email:%q DisplayName:%q Groups:%q Attributes:%q}",
		u.Username, u.Email, u.DisplayName, u.Groups, u.Attributes)
}

// attributes returns every attribute the user's assertions carry.
func (u User) attributes() map[string][]string {
	a := map[string][]string{AttrEmail: {u.Email}}
	if u.DisplayName != "" {
		a[AttrDisplayName] = []string{u.DisplayName}
	}
	if len(u.Groups) > 0 {
		a[AttrGroups] = slices.Clone(u.Groups)
	}
	for k, v := range u.Attributes {
		a[k] = slices.Clone(v)
	}
	return a
}

// Options configures Start and Launch.
type Options struct {
	// Users can sign in at the IdP.
	Users []User
}

// SP is a service provider an IdP answers.
type SP struct {
	// EntityID is the SP's entity ID, the Issuer of its AuthnRequests and the Audience of
	// the assertions it gets. Required.
	EntityID string
	// ACSURL is the SP's AssertionConsumerService URL (HTTP-POST binding), an absolute
	// http(s) URL. Required.
	ACSURL string
}

// IdP is a SimpleSAMLphp identity provider on 127.0.0.1.
type IdP struct {
	// BaseURL is http://127.0.0.1:PORT/simplesaml/, with the trailing slash.
	BaseURL string
	// EntityID is the IdP's entity ID, the URL of its metadata.
	EntityID string
	// Metadata is the IdP's metadata (an EntityDescriptor), as it served it at the start.
	Metadata []byte
	// Certificate is the IdP's signing certificate.
	Certificate *x509.Certificate

	dir    string
	suffix string // of the cookie names

	mu    sync.Mutex // guards sps, users and the files holding them
	sps   map[string]SP
	users []User
	proc  *exec.Cmd
	done  chan struct{}
}

// Start returns an IdP for t, stopped when t ends; it skips t when SimpleSAMLphp is missing
// (fails it when CI is set) and fails it on any other error. When t has failed, the end of
// the IdP's log is written to t's log before the IdP stops.
func Start(t testing.TB, opts Options) *IdP {
	t.Helper()
	idp, err := Launch(opts)
	Require(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("samltest: the end of the log of the IdP at %s:\n%s", idp.BaseURL, idp.LogTail())
		}
		idp.Close()
	})
	return idp
}

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
		t.Fatalf("samltest: %v", err)
	}
}

// Launch is Start for callers without a testing.TB, such as TestMain. The caller must Close
// the IdP.
func Launch(opts Options) (*IdP, error) {
	if err := checkUsers(opts.Users); err != nil {
		return nil, err
	}
	php, www, err := findSimpleSAMLphp()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "samltest-")
	if err != nil {
		return nil, err
	}
	idp := &IdP{dir: dir, suffix: randomHex(6), sps: map[string]SP{}}
	if err := idp.writeStatic(www, opts.Users); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for range 10 { // the port may be taken between freePort and php's bind; try another
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		if err = idp.start(php, port); err == nil {
			return idp, nil
		}
	}
	idp.Close()
	return nil, err
}

// Close stops php (SIGKILL) and removes the IdP's files.
func (i *IdP) Close() {
	i.stop()
	os.RemoveAll(i.dir)
}

// MetadataURL returns the URL of the IdP's metadata.
func (i *IdP) MetadataURL() string { return i.BaseURL + "saml2/idp/metadata.php" }

// SSOURL returns the IdP's single sign-on URL (HTTP-Redirect and HTTP-POST bindings).
func (i *IdP) SSOURL() string { return i.BaseURL + "saml2/idp/SSOService.php" }

// IdPInitiatedURL returns the URL that starts an IdP-initiated sign-in to the SP with
// entity ID spEntityID (registered with RegisterSP).
func (i *IdP) IdPInitiatedURL(spEntityID string) string {
	return i.SSOURL() + "?spentityid=" + url.QueryEscape(spEntityID)
}

// RegisterSP adds sp to the SPs the IdP answers, or replaces the SP with the same entity ID;
// the next request sees it.
func (i *IdP) RegisterSP(sp SP) error {
	if err := checkSP(sp); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.sps[sp.EntityID] = sp
	remote := map[string]any{}
	for id, s := range i.sps {
		remote[id] = map[string]any{
			"AssertionConsumerService":   s.ACSURL,
			"NameIDFormat":               NameIDFormatEmail,
			"simplesaml.nameidattribute": AttrEmail,
			"simplesaml.attributes":      true,
			"saml20.sign.response":       true,
			"saml20.sign.assertion":      true,
		}
	}
	return writeJSON(filepath.Join(i.dir, "metadata", "saml20-sp-remote.json"), remote)
}

// LogTail returns the end of the IdP's log: php's request lines and SimpleSAMLphp's messages.
func (i *IdP) LogTail() string {
	b, err := os.ReadFile(filepath.Join(i.dir, "php.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimSpace(string(b))
}

// findSimpleSAMLphp returns php's path and SimpleSAMLphp's web root, or an error matching
// ErrUnavailable.
func findSimpleSAMLphp() (php, www string, err error) {
	php, err = exec.LookPath("php")
	if err != nil {
		return "", "", fmt.Errorf("%w: php is not on PATH (Debian: apt-get install php-cli php-xml php-mbstring)", ErrUnavailable)
	}
	dir := os.Getenv(EnvDir)
	if dir == "" {
		dir = defaultDir
	}
	www = filepath.Join(dir, "www")
	if _, err := os.Stat(filepath.Join(www, "_include.php")); err != nil {
		return "", "", fmt.Errorf("%w: no SimpleSAMLphp in %s (set %s, or apt-get install simplesamlphp)", ErrUnavailable, dir, EnvDir)
	}
	out, err := exec.Command(php, "-r", `foreach (["dom", "mbstring", "openssl"] as $e) { if (!extension_loaded($e)) { echo $e, " "; } }`).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("%w: running php: %v: %s", ErrUnavailable, err, out)
	}
	if missing := strings.TrimSpace(string(out)); missing != "" {
		return "", "", fmt.Errorf("%w: php lacks the extensions %s (Debian: apt-get install php-xml php-mbstring)", ErrUnavailable, missing)
	}
	return php, www, nil
}

// writeStatic writes what does not depend on the port: the web root, the key and
// certificate, the users, the hosted IdP and an empty SP list.
func (i *IdP) writeStatic(www string, users []User) error {
	for _, d := range []string{"web", "config", "metadata", "cert", "data", "tmp", "sessions", "log"} {
		if err := os.Mkdir(filepath.Join(i.dir, d), 0o700); err != nil {
			return err
		}
	}
	if err := os.Symlink(www, filepath.Join(i.dir, "web", "simplesaml")); err != nil {
		return err
	}
	cert, err := writeKeyPair(filepath.Join(i.dir, "cert"))
	if err != nil {
		return err
	}
	i.Certificate = cert
	if err := i.writeUsers(users); err != nil {
		return err
	}
	hosted := map[string]any{"__DYNAMIC:1__": map[string]any{
		"host":                "__DEFAULT__",
		"privatekey":          "idp.key",
		"certificate":         "idp.crt",
		"auth":                "users",
		"signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		"SingleSignOnServiceBinding": []string{
			"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
			"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
		},
	}}
	files := []struct {
		path string
		v    any
	}{
		{"metadata/saml20-idp-hosted.json", hosted},
		{"metadata/saml20-sp-remote.json", map[string]any{}},
	}
	for _, f := range files {
		if err := writeJSON(filepath.Join(i.dir, f.path), f.v); err != nil {
			return err
		}
	}
	// The PHP files only load the JSON beside them, so that no value needs PHP quoting.
	php := []struct{ path, variable, json string }{
		{"config/config.php", "config", "config.json"},
		{"config/authsources.php", "config", "authsources.json"},
		{"metadata/saml20-idp-hosted.php", "metadata", "saml20-idp-hosted.json"},
		{"metadata/saml20-sp-remote.php", "metadata", "saml20-sp-remote.json"},
	}
	for _, f := range php {
		src := fmt.Sprintf("<?php\n$%s = json_decode(file_get_contents(__DIR__ . '/%s'), true, 512, JSON_THROW_ON_ERROR);\n", f.variable, f.json)
		if err := os.WriteFile(filepath.Join(i.dir, f.path), []byte(src), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// writeUsers writes the users' source (config/authsources.json), which SimpleSAMLphp reads
// at each request, and keeps the users.
func (i *IdP) writeUsers(users []User) error {
	sources := map[string]any{"admin": []string{"core:AdminPassword"}}
	userpass := map[string]any{"0": "exampleauth:UserPass"}
	for _, u := range users {
		userpass[u.Username+":"+u.Password] = u.attributes()
	}
	sources["users"] = userpass
	if err := writeJSON(filepath.Join(i.dir, "config", "authsources.json"), sources); err != nil {
		return err
	}
	i.users = slices.Clone(users)
	return nil
}

// SetUser replaces the user with u's Username (its password, email, groups, attributes), as
// an administrator changing a person at the IdP would: the next sign-in at the IdP asserts
// the new attributes. A browser already signed in at the IdP keeps its IdP session and the
// attributes it had. It is safe for concurrent use.
func (i *IdP) SetUser(u User) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := slices.IndexFunc(i.users, func(x User) bool { return x.Username == u.Username })
	if k < 0 {
		return fmt.Errorf("%w: no user %q", ErrInvalid, u.Username)
	}
	users := slices.Clone(i.users)
	users[k] = u
	if err := checkUsers(users); err != nil {
		return err
	}
	return i.writeUsers(users)
}

// writeConfig writes config.json for the IdP on port.
func (i *IdP) writeConfig(port int) error {
	d := func(name string) string { return filepath.Join(i.dir, name) + "/" }
	cfg := map[string]any{
		"baseurlpath":                   fmt.Sprintf("http://127.0.0.1:%d/simplesaml/", port),
		"certdir":                       d("cert"),
		"datadir":                       d("data"),
		"tempdir":                       filepath.Join(i.dir, "tmp"),
		"loggingdir":                    d("log"),
		"metadatadir":                   d("metadata"),
		"secretsalt":                    randomHex(16),
		"auth.adminpassword":            randomHex(16),
		"technicalcontact_name":         "iamkit tests",
		"technicalcontact_email":        "tests@example.com",
		"timezone":                      "UTC",
		"enable.saml20-idp":             true,
		"module.enable":                 map[string]bool{"exampleauth": true, "core": true, "saml": true},
		"metadata.sources":              []map[string]string{{"type": "flatfile"}},
		"store.type":                    "phpsession",
		"session.phpsession.savepath":   filepath.Join(i.dir, "sessions"),
		"session.cookie.secure":         false,
		"session.cookie.samesite":       nil,
		"session.cookie.name":           "SimpleSAMLSessionID_" + i.suffix,
		"session.phpsession.cookiename": "SimpleSAML_" + i.suffix,
		"session.authtoken.cookiename":  "SimpleSAMLAuthToken_" + i.suffix,
		"language.cookie.name":          "language_" + i.suffix,
		"language.cookie.secure":        false,
		"language.cookie.samesite":      nil,
		"logging.handler":               "stderr",
		"logging.level":                 6, // SimpleSAML\Logger::INFO
		"showerrors":                    true,
		"errorreporting":                false,
		"admin.checkforupdates":         false,
		"production":                    false,
	}
	return writeJSON(filepath.Join(i.dir, "config", "config.json"), cfg)
}

// start writes the configuration for port, runs php on it and waits until it serves the
// metadata.
func (i *IdP) start(php string, port int) error {
	if err := i.writeConfig(port); err != nil {
		return err
	}
	i.BaseURL = fmt.Sprintf("http://127.0.0.1:%d/simplesaml/", port)
	i.EntityID = i.MetadataURL()
	logf, err := os.OpenFile(filepath.Join(i.dir, "php.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(php, "-d", "opcache.enable_cli=0", "-d", "display_errors=stderr",
		"-S", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), "-t", filepath.Join(i.dir, "web"))
	cmd.Dir = i.dir
	cmd.Env = append(phpEnviron(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(i.dir, "config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting php: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	i.mu.Lock()
	i.proc, i.done = cmd, done
	i.mu.Unlock()
	md, err := i.waitMetadata(done)
	if err != nil {
		i.stop()
		return fmt.Errorf("SimpleSAMLphp on port %d: %w (log: %s)", port, err, i.LogTail())
	}
	i.Metadata = md
	return nil
}

// waitMetadata polls the metadata URL until it answers 200 with an EntityDescriptor, php
// exits, or startTimeout passes.
func (i *IdP) waitMetadata(exited <-chan struct{}) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-exited:
			return nil, errors.New("php exited during start-up")
		case <-ctx.Done():
			return nil, fmt.Errorf("no metadata within %v: %v", startTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
		var md []byte
		if md, last = get(ctx, i.MetadataURL()); last == nil {
			if !bytes.Contains(md, []byte("EntityDescriptor")) {
				return nil, fmt.Errorf("the metadata URL answered without an EntityDescriptor: %.300s", md)
			}
			return md, nil
		}
	}
}

// get returns the body of a 200 answer to a GET of u.
func get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, body)
	}
	return body, nil
}

// stop kills php and waits for it.
func (i *IdP) stop() {
	i.mu.Lock()
	p, done := i.proc, i.done
	i.proc = nil
	i.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.Process.Kill()
	<-done
}

// writeKeyPair writes a fresh RSA-2048 key (idp.key, PKCS #8) and a self-signed certificate
// for it (idp.crt) into dir.
func writeKeyPair(dir string) (*x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "samltest IdP", Organization: []string{"iamkit tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	files := map[string]*pem.Block{
		"idp.key": {Type: "PRIVATE KEY", Bytes: pkcs8},
		"idp.crt": {Type: "CERTIFICATE", Bytes: der},
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	return cert, nil
}

// writeJSON writes v as JSON to path through a temporary file and a rename, so that php
// never reads half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// checkUsers refuses users SimpleSAMLphp could not tell apart or sign in.
func checkUsers(users []User) error {
	seen := map[string]bool{}
	for _, u := range users {
		switch {
		case u.Username == "":
			return fmt.Errorf("%w: User.Username is required", ErrInvalid)
		case strings.Contains(u.Username, ":"):
			return fmt.Errorf("%w: User.Username %q contains ':'", ErrInvalid, u.Username)
		case u.Password == "":
			return fmt.Errorf("%w: user %q: User.Password is required", ErrInvalid, u.Username)
		case u.Email == "":
			return fmt.Errorf("%w: user %q: User.Email is required (it is the NameID)", ErrInvalid, u.Username)
		case seen[u.Username]:
			return fmt.Errorf("%w: User.Username %q is given twice", ErrInvalid, u.Username)
		}
		seen[u.Username] = true
	}
	return nil
}

// checkSP refuses an SP without an entity ID or a usable ACS URL.
func checkSP(sp SP) error {
	if sp.EntityID == "" {
		return fmt.Errorf("%w: SP.EntityID is required", ErrInvalid)
	}
	u, err := url.Parse(sp.ACSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: SP %q: SP.ACSURL %q is not an absolute http(s) URL", ErrInvalid, sp.EntityID, sp.ACSURL)
	}
	return nil
}

// phpEnviron is the test binary's environment without the variables that would change how
// php serves: PHP_CLI_SERVER_WORKERS (several processes, which Close would not all kill) and a
// SIMPLESAMLPHP_CONFIG_DIR of the caller's.
func phpEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "PHP_CLI_SERVER_WORKERS" || name == "SIMPLESAMLPHP_CONFIG_DIR"
	})
}

// freePort returns a loopback TCP port that is free now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
