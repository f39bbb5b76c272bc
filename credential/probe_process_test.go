package credential_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// probeEnv, when set, makes this test binary the GET loop of another process instead of
// running tests: "standalone,<addr>" or "cluster,<addr>,<addr>,...". BenchmarkOwnerDeletionAtScale
// starts it so that the client whose latency it reports is a process of its own, as another
// API server or edge would be, scheduled by the kernel rather than by the benchmark's Go
// runtime (where the Verifiers and the purger keep both Ps busy and a goroutine whose reply
// has arrived can wait for the next scheduling point).
const probeEnv = "IAMKIT_GET_PROBE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(probeEnv); spec != "" {
		os.Exit(probeProcess(spec, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// probeProcess GETs a key every 500µs until in reaches EOF, then writes every latency,
// in nanoseconds, one per line, to out.
func probeProcess(spec string, in io.Reader, out io.Writer) int {
	mode, addrs, _ := strings.Cut(spec, ",")
	var c redis.UniversalClient
	switch mode {
	case "standalone":
		c = redis.NewClient(&redis.Options{Addr: addrs, MaintNotificationsConfig: noMaint()})
	case "cluster":
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), MaintNotificationsConfig: noMaint()})
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want standalone,<addr> or cluster,<addrs>\n", probeEnv, spec)
		return 2
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, in); cancel() }()
	var lats []time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		t := time.Now()
		err := c.Get(ctx, "probe:"+strconv.Itoa(i%64)).Err()
		d := time.Since(t)
		if err == nil || errors.Is(err, redis.Nil) {
			lats = append(lats, d)
		}
		time.Sleep(500 * time.Microsecond)
	}
	w := bufio.NewWriter(out)
	for _, d := range lats {
		fmt.Fprintln(w, int64(d))
	}
	if err := w.Flush(); err != nil {
		return 1
	}
	return 0
}

// processProbe is a running probe process.
type processProbe struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   strings.Builder
}

// startProcessProbe starts this test binary as a probe process of spec.
func startProcessProbe(tb testing.TB, spec string) *processProbe {
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	p := &processProbe{cmd: exec.Command(exe)}
	p.cmd.Env = append(os.Environ(), probeEnv+"="+spec)
	p.cmd.Stdout = &p.out
	p.cmd.Stderr = os.Stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// stop ends the loop and returns its latencies.
func (p *processProbe) stop(tb testing.TB) latencies {
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("probe process: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		tb.Fatal("probe process did not stop")
	}
	var lats []time.Duration
	for line := range strings.Lines(p.out.String()) {
		n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			tb.Fatalf("probe process wrote %q", line)
		}
		lats = append(lats, time.Duration(n))
	}
	return summarize(lats)
}

// summarize returns the count, p99 and maximum of lats, which it sorts.
func summarize(lats []time.Duration) latencies {
	if len(lats) == 0 {
		return latencies{}
	}
	slices.Sort(lats)
	return latencies{n: len(lats), p99: lats[len(lats)*99/100], max: lats[len(lats)-1]}
}
