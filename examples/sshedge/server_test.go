package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/credential"
	"github.com/iamkit/iamkit/store/memstore"
)

// closeDeadline is how long a test waits for the edge to drop a connection whose credential
// went bad. The edge aims at well under a second; the measured time is logged.
const closeDeadline = 5 * time.Second

// edge is an SSH edge serving on a free loopback port, on a memstore holding a demo account.
// It stops when the test ends.
type edge struct {
	addr string
	port string
	d    *demo
}

func startEdge(t *testing.T) *edge {
	t.Helper()
	ctx := t.Context()
	st, err := memstore.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := newDemo(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	v, err := credential.NewVerifier(st)
	if err != nil {
		t.Fatal(err)
	}
	go v.Run(ctx)
	hostKey, err := loadHostKey("")
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{
		v:             v,
		hostKey:       hostKey,
		log:           slog.New(slog.NewTextHandler(t.Output(), nil)),
		checkInterval: 200 * time.Millisecond,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.serve(serveCtx, ln) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(closeDeadline):
			t.Error("serve did not return after its context was cancelled")
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &edge{addr: ln.Addr().String(), port: port, d: d}
}

// clientKey is an ed25519 key pair, its private key written for ssh -i.
type clientKey struct {
	path       string // private key file, mode 0600
	authorized string // public key, authorized_keys line
	signer     ssh.Signer
}

func newClientKey(t *testing.T, name string) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{path: path, authorized: string(ssh.MarshalAuthorizedKey(signer.PublicKey())), signer: signer}
}

// register makes k an SSH credential of the demo bot user with the given ACL.
func (e *edge) register(t *testing.T, k clientKey, acl ...string) credential.Issued {
	t.Helper()
	cred, err := e.d.registerKey(t.Context(), k.authorized, acl)
	if err != nil {
		t.Fatalf("register SSH key: %v", err)
	}
	return cred
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// needOpenSSH skips the test when the ssh client is missing, unless CI is set.
func needOpenSSH(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the OpenSSH client is required in CI: %v", err)
		}
		t.Skipf("skipping: the OpenSSH client (ssh) is not installed: %v", err)
	}
}

// sshCommand is the stock OpenSSH client logging into the edge with key, configured to ignore
// the user's configuration, agent and known hosts.
func (e *edge) sshCommand(ctx context.Context, k clientKey, args ...string) *exec.Cmd {
	all := []string{
		"-F", "/dev/null", "-i", k.path, "-p", e.port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
		"-o", "LogLevel=ERROR",
	}
	all = append(append(all, args...), "x@127.0.0.1")
	cmd := exec.CommandContext(ctx, "ssh", all...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

func TestOpenSSHLogin(t *testing.T) {
	needOpenSSH(t)
	e := startEdge(t)
	key := newClientKey(t, "id_registered")
	cred := e.register(t, key, "bind:127.0.0.1:8080")

	t.Run("registered key", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		out, err := e.sshCommand(ctx, key).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh: %v\n%s", err, out)
		}
		for _, want := range []string{e.d.bot.ID, e.d.accountID, cred.ID, cred.Fingerprint, "bind:127.0.0.1:8080"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("output does not contain %q:\n%s", want, out)
			}
		}
	})

	t.Run("unregistered key", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		out, err := e.sshCommand(ctx, newClientKey(t, "id_other")).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 255 {
			t.Fatalf("ssh: %v, want exit status 255\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("Permission denied (publickey)")) {
			t.Errorf("output does not say the key was refused:\n%s", out)
		}
		if bytes.Contains(out, []byte(e.d.bot.ID)) {
			t.Errorf("an unregistered key was shown the identity:\n%s", out)
		}
	})
}

// serveGreeting accepts connections on a free loopback port and writes greeting to each.
func serveGreeting(t *testing.T, greeting string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, greeting+"\n")
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readGreeting dials addr and returns the first line it gets, or an error.
func readGreeting(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestOpenSSHRemoteForward(t *testing.T) {
	needOpenSSH(t)
	e := startEdge(t)
	target := serveGreeting(t, "hello from the agent's side")
	allowed, denied := freePort(t), freePort(t)
	allowedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(allowed))
	key := newClientKey(t, "id_forward")
	cred := e.register(t, key, "bind:"+allowedAddr)
	forwardArgs := func(port int) []string {
		return []string{"-N", "-o", "ExitOnForwardFailure=yes",
			"-R", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", port, target)}
	}

	t.Run("disallowed address refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		out, err := e.sshCommand(ctx, key, forwardArgs(denied)...).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("ssh still running after %v: the forward was not refused\n%s", 15*time.Second, out)
		}
		if err == nil || !bytes.Contains(out, []byte("remote port forwarding failed")) {
			t.Fatalf("ssh: %v, want a refused forward\n%s", err, out)
		}
		if _, err := readGreeting(net.JoinHostPort("127.0.0.1", strconv.Itoa(denied))); err == nil {
			t.Error("something answers on the refused address")
		}
	})

	t.Run("allowed address forwarded until revocation", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var out bytes.Buffer
		cmd := e.sshCommand(ctx, key, forwardArgs(allowed)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		var got string
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if got, err = readGreeting(allowedAddr); err == nil {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("ssh exited: %v\n%s", err, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err != nil || got != "hello from the agent's side" {
			t.Fatalf("through the forward: %q, %v", got, err)
		}

		start := time.Now()
		if err := e.d.creds.Delete(t.Context(), e.d.admin, cred.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case <-exited:
			t.Logf("revocation to disconnect (OpenSSH client): %v", time.Since(start))
		case <-time.After(closeDeadline):
			t.Fatalf("ssh still connected %v after its key was revoked", closeDeadline)
		}
		if _, err := readGreeting(allowedAddr); err == nil {
			t.Error("the forward still answers after revocation")
		}
	})
}

// dialGo logs into the edge with the Go SSH client.
func (e *edge) dialGo(signer ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
		User:            "x",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         5 * time.Second,
	})
}

// forwardPayload is a tcpip-forward request's payload.
func forwardPayload(host string, port int) []byte {
	return ssh.Marshal(struct {
		Addr string
		Port uint32
	}{host, uint32(port)})
}

// TestGoClient covers the same ground with golang.org/x/crypto/ssh's client, so that it runs
// without OpenSSH too, and the owner-suspension path.
func TestGoClient(t *testing.T) {
	e := startEdge(t)
	key := newClientKey(t, "id_go")
	allowed := freePort(t)
	cred := e.register(t, key, fmt.Sprintf("bind:127.0.0.1:%d", allowed))

	if _, err := e.dialGo(newClientKey(t, "id_unknown").signer); err == nil {
		t.Error("an unregistered key logged in")
	}
	// Passwords are not offered at all.
	if _, err := ssh.Dial("tcp", e.addr, &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.Password("hunter2")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	}); err == nil {
		t.Error("a password logged in")
	}

	client, err := e.dialGo(key.signer)
	if err != nil {
		t.Fatalf("registered key: %v", err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("whoami")
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if !bytes.Contains(out, []byte(e.d.bot.ID)) || !bytes.Contains(out, []byte(cred.ID)) {
		t.Errorf("session output does not name the owner and credential:\n%s", out)
	}

	ok, _, err := client.SendRequest("tcpip-forward", true, forwardPayload("127.0.0.1", allowed+1))
	if err != nil || ok {
		t.Errorf("forward to a disallowed port: ok=%v err=%v, want refused", ok, err)
	}
	ok, _, err = client.SendRequest("tcpip-forward", true, forwardPayload("127.0.0.1", 0))
	if err != nil || ok {
		t.Errorf("forward to any port with a restricted ACL: ok=%v err=%v, want refused", ok, err)
	}
	ok, _, err = client.SendRequest("tcpip-forward", true, forwardPayload("127.0.0.1", allowed))
	if err != nil || !ok {
		t.Fatalf("forward to the allowed port: ok=%v err=%v", ok, err)
	}
	if _, err := client.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Error("a local forward (direct-tcpip) was accepted")
	}

	// A shell stays open; suspending the owner ends it, with a reason on stderr.
	shell, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	shell.Stdout, shell.Stderr = &stdout, &stderr
	stdin, err := shell.StdinPipe() // kept open: no EOF
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := shell.Shell(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- client.Wait() }()

	inactive := false
	start := time.Now()
	if _, err := e.d.bots.Update(t.Context(), e.d.admin, e.d.bot.ID,
		botuser.UpdateParams{Active: &inactive}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
		t.Logf("owner suspension to disconnect (Go client): %v", time.Since(start))
	case <-time.After(closeDeadline):
		t.Fatalf("connection still open %v after the owner was suspended", closeDeadline)
	}
	shell.Wait()
	if !strings.Contains(stderr.String(), "ERR_NGROK_636") {
		t.Errorf("the shell was not told why it closed; stderr: %q", stderr.String())
	}
	if _, err := e.dialGo(key.signer); err == nil {
		t.Error("a key of a suspended owner logged in")
	}
}
