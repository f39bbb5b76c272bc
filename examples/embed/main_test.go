package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/iamkit/iamkit/internal/redistest"
)

const wantOutput = `GET /reports: reports for admin@acme.test
agent: welcome, ci
agent after deactivation: refused: owner_inactive
`

func TestRunInMemory(t *testing.T) { testRun(t, "") }

func TestRunOnRedis(t *testing.T) { testRun(t, redistest.Start(t).Addr) }

func testRun(t *testing.T, redisAddr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, redisAddr); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	if diff := cmp.Diff(wantOutput, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestIamkitSpecificLines counts the lines of main.go that name iamkit: a package of the
// module, or a value the library returned (iam, boot, bot, tok, p). The issue asked for the
// whole service in at most 40; error checks and plain Go are not counted.
func TestIamkitSpecificLines(t *testing.T) {
	f, err := os.Open("main.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := regexp.MustCompile(`\b(iamkit|identity|rbac|botuser|credential|store|memstore|redisstore|iam|boot|bot|tok|p)\.`)
	skip := regexp.MustCompile(`^\s*(//|"github.com/)`)
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		if line := s.Text(); names.MatchString(line) && !skip.MatchString(line) {
			n++
		}
	}
	t.Logf("%d iamkit-specific lines", n)
	if n > 40 {
		t.Errorf("main.go has %d iamkit-specific lines, want at most 40", n)
	}
}
