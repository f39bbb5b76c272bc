package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// residentWorkers is how many clients create bot users at once, each over its own keep-alive
// connection.
const residentWorkers = 4

// BenchmarkBotUsersResidentHTTP builds the API server, starts it as its own process on
// memstore (one process per sub-benchmark and per b.N), creates b.N bot users with
// POST /bot_users through its bootstrap API key from residentWorkers keep-alive clients,
// requires a 201 for every one, and reports the server process's resident memory from
// /proc/<pid>/status: VmRSS at the end (rss-MB) and its peak VmHWM (hwm-MB), beside the
// reference of the same process right after bootstrap, before the first request
// (idle-rss-MB), and the growth per bot user over that reference (rss-KB/bot). The API rate
// is raised with -api-rate so that one key can make 200,000 bot users; DefaultRetention keeps
// the default audit retention (the newest 100,000 events), RetentionOff keeps every event
// (-audit-retention off). After the memory is read, the audit events the account keeps are
// counted through GET /events (events). The allocations reported are the client's.
//
//	go test -run '^$' -bench 'BotUsersResidentHTTP' -benchtime 200000x -timeout 20m ./examples/apiserver
func BenchmarkBotUsersResidentHTTP(b *testing.B) {
	bin := buildAPIServer(b)
	for _, c := range []struct {
		name     string
		args     []string
		keepsAll bool // every audit event is kept: at least one per bot user
	}{
		{"DefaultRetention", nil, false},
		{"RetentionOff", []string{"-audit-retention", "off"}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := startAPIServer(b, bin, append([]string{"-api-rate", "1000000/1s"}, c.args...)...)
			idle := srv.status(b)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: residentWorkers}, Timeout: time.Minute}
			defer client.CloseIdleConnections()

			var next atomic.Int64
			var failed atomic.Bool
			var firstErr error
			var once sync.Once
			fail := func(err error) { once.Do(func() { firstErr = err; failed.Store(true) }) }
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range residentWorkers {
				wg.Go(func() {
					for !failed.Load() {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if err := srv.createBot(b, client, "bot-"+strconv.FormatInt(i, 10)); err != nil {
							fail(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			end := srv.status(b)
			events, err := srv.countEvents(b, client)
			if err != nil {
				b.Fatal(err)
			}
			if c.keepsAll && events < b.N {
				b.Fatalf("%d audit events kept with retention off, want at least one per bot user (%d)", events, b.N)
			}
			srv.stop(b)

			b.ReportMetric(float64(idle.rssKB)/1024, "idle-rss-MB")
			b.ReportMetric(float64(end.rssKB)/1024, "rss-MB")
			b.ReportMetric(float64(end.hwmKB)/1024, "hwm-MB")
			b.ReportMetric(float64(end.rssKB-idle.rssKB)/float64(b.N), "rss-KB/bot")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "bots/s")
			b.ReportMetric(float64(events), "events")
			if live, ok := lastLiveHeapMB(srv.stderr.String()); ok {
				b.ReportMetric(live, "live-heap-MB")
			} else if b.N >= 10_000 {
				b.Fatalf("no garbage collection in the server's GC trace after %d bot users", b.N)
			}
		})
	}
}

// buildAPIServer builds this package's command into a temporary directory.
func buildAPIServer(b *testing.B) string {
	b.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("no go command to build the API server: %v", err)
	}
	bin := filepath.Join(b.TempDir(), "apiserver")
	out, err := exec.CommandContext(b.Context(), goCmd, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// apiServerProcess is the API server running as a subprocess.
type apiServerProcess struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	key    string // the bootstrap API key
	stderr *syncBuffer
	done   chan error // Wait's result
}

// startAPIServer starts bin on a free loopback port and an empty memstore with args, and
// returns once it has bootstrapped, written its API key and is listening. The process is
// killed when b ends if stop has not stopped it.
func startAPIServer(b *testing.B, bin string, args ...string) *apiServerProcess {
	b.Helper()
	bootJSON := filepath.Join(b.TempDir(), "bootstrap.json")
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-store", "memory", "-bootstrap-json", bootJSON}, args...)...)
	// The runtime's GC trace (stderr) tells the live heap the process marked (lastLiveHeapMB).
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	p := &apiServerProcess{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	b.Cleanup(func() { _ = cmd.Process.Kill() }) // after stop, the process is gone: nothing to do

	// The banner's first line says where it listens; the rest of stdout (the banner and one
	// log line per request) is read and dropped, so that the server never blocks writing it.
	banner := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(stdout)
		for {
			line, err := rd.ReadString('\n')
			if base, ok := strings.CutPrefix(strings.TrimSpace(line), "iamkit apiserver listening on "); ok {
				banner <- base
				_, _ = io.Copy(io.Discard, rd)
				return
			}
			if err != nil {
				close(banner)
				return
			}
		}
	}()
	select {
	case base, ok := <-banner:
		if !ok {
			b.Fatalf("the API server exited before listening: %v\n%s", <-p.done, p.stderr.String())
		}
		p.base = base
	case <-time.After(30 * time.Second):
		b.Fatalf("the API server did not start within 30 s\n%s", p.stderr.String())
	}
	data, err := os.ReadFile(bootJSON)
	if err != nil {
		b.Fatal(err)
	}
	var boot bootstrapResult
	if err := json.Unmarshal(data, &boot); err != nil {
		b.Fatal(err)
	}
	if !strings.HasPrefix(boot.APIKey, "iak_") {
		b.Fatalf("bootstrap json without an API key: %s", data)
	}
	p.key = boot.APIKey
	return p
}

// createBot creates one bot user named name, and returns an error unless the server answered
// 201 with that name.
func (p *apiServerProcess) createBot(b *testing.B, client *http.Client, name string) error {
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, p.base+"/bot_users",
		strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Ngrok-Version", "2")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /bot_users %s: %d %s", name, resp.StatusCode, body)
	}
	if !bytes.Contains(body, []byte(`"name":"`+name+`"`)) {
		return fmt.Errorf("POST /bot_users %s: 201 without its name: %s", name, body)
	}
	return nil
}

// countEvents pages through GET /events and returns how many audit events the account
// keeps; it runs after the memory is read.
func (p *apiServerProcess) countEvents(b *testing.B, client *http.Client) (int, error) {
	n := 0
	for next := p.base + "/events?limit=100"; next != ""; {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, next, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+p.key)
		req.Header.Set("Ngrok-Version", "2")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   *string           `json:"next_page_uri"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			return 0, fmt.Errorf("GET %s: %d %v", next, resp.StatusCode, err)
		}
		n += len(page.Events)
		next = ""
		if page.Next != nil {
			next = *page.Next
		}
	}
	return n, nil
}

// lastLiveHeapMB returns the live heap the last garbage collection in a GODEBUG=gctrace=1
// trace marked, in MB: C of its "A->B->C MB".
func lastLiveHeapMB(trace string) (float64, bool) {
	lines := strings.Split(trace, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "gc ") {
			continue
		}
		for f := range strings.SplitSeq(lines[i], ", ") {
			heap, ok := strings.CutSuffix(f, " MB")
			if !ok || strings.Count(heap, "->") != 2 {
				continue
			}
			live, err := strconv.ParseFloat(heap[strings.LastIndex(heap, "->")+2:], 64)
			return live, err == nil
		}
	}
	return 0, false
}

// procStatus is a process's resident memory: VmRSS, and its peak VmHWM, in kB.
type procStatus struct{ rssKB, hwmKB int }

// status reads the server process's /proc/<pid>/status.
func (p *apiServerProcess) status(b *testing.B) procStatus {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatalf("the server's resident memory: %v", err)
	}
	s, err := parseProcStatus(data)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// parseProcStatus reads VmRSS and VmHWM from the text of /proc/<pid>/status.
func parseProcStatus(data []byte) (procStatus, error) {
	var s procStatus
	for line := range strings.SplitSeq(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		if err != nil {
			return procStatus{}, fmt.Errorf("/proc status %s: %q", name, v)
		}
		if name == "VmRSS" {
			s.rssKB = kb
		} else {
			s.hwmKB = kb
		}
	}
	if s.rssKB == 0 || s.hwmKB == 0 {
		return procStatus{}, errors.New("/proc status without VmRSS and VmHWM")
	}
	return s, nil
}

// stop stops the server as SIGTERM does, requires it to exit cleanly within 15 s, and kills it
// otherwise.
func (p *apiServerProcess) stop(b *testing.B) {
	b.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			b.Fatalf("the API server exited: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		b.Fatalf("the API server did not stop within 15 s of SIGTERM; killed\n%s", p.stderr.String())
	}
}

// TestLastLiveHeapMB reads the live heap of the last collection of a GC trace.
func TestLastLiveHeapMB(t *testing.T) {
	for _, c := range []struct {
		name  string
		trace string
		want  float64
		ok    bool
	}{
		{name: "two collections", trace: "gc 1 @0.012s 2%: 0.026+0.39+0.022 ms clock, 0.10+0.35/0.32/0.11+0.089 ms cpu, 4->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
			"level=INFO msg=x\ngc 2 @9.1s 3%: 0.02+12+0.03 ms clock, 0.05+1/2/3+0.06 ms cpu, 280->290->151 MB, 300 MB goal, 0 MB stacks, 0 MB globals, 2 P\n", want: 151, ok: true},
		{name: "forced", trace: "gc 7 @1.0s 1%: 0.01+1+0.01 ms clock, 0.02+0/1/0+0.02 ms cpu, 10->10->5 MB, 20 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n", want: 5, ok: true},
		{name: "none", trace: "level=INFO msg=x\n"},
		{name: "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := lastLiveHeapMB(c.trace)
			if got != c.want || ok != c.ok {
				t.Fatalf("lastLiveHeapMB = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// TestParseProcStatus reads what the benchmark reports from /proc/<pid>/status text, and
// refuses a status without it.
func TestParseProcStatus(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      string
		want    procStatus
		wantErr bool
	}{
		{name: "linux", in: "Name:\tapiserver\nVmPeak:\t 1300000 kB\nVmHWM:\t  412000 kB\nVmRSS:\t  398765 kB\nRssAnon:\t  390000 kB\n", want: procStatus{rssKB: 398765, hwmKB: 412000}},
		{name: "no HWM", in: "VmRSS:\t  398765 kB\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "bad number", in: "VmHWM:\t  x kB\nVmRSS:\t  1 kB\n", wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseProcStatus([]byte(c.in))
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("parseProcStatus = %+v, %v; want %+v, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
	// This process's own status has both.
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc on this system")
	}
	if s, err := parseProcStatus(data); err != nil || s.hwmKB < s.rssKB {
		t.Fatalf("own status: %+v, %v", s, err)
	}
}
