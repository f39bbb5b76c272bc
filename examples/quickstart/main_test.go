package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	const want = `1. account "acme" on plan "payg", administered by ada@example.com
2. bot user "ci", active: true
3. authtoken for the bot, ACL ["bind:*.ci.example.com"], printed as [REDACTED] (Reveal() gives it, once)
4. verified: owner is the bot "ci": true, may bind api.ci.example.com: true, example.com: false
5. bot user deactivated
6. verified again: refused, code owner_inactive (unauthenticated: true)
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
