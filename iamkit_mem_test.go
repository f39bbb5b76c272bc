package iamkit_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/iamkit/iamkit"
	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
	"github.com/iamkit/iamkit/store/memstore"
)

// BenchmarkBotUsersResident creates b.N bot users in one account through a running IAM on
// memstore, as the API server does, and reports what they hold: the live heap per bot user
// after a garbage collection (heap-B/bot), the process's resident memory at the end
// (rss-MB: the whole process, so run one sub-benchmark per process), and the audit events
// the account keeps. DefaultRetention prunes the log to 100,000 events as it grows;
// RetentionOff keeps one event per bot user.
//
//	go test -run '^$' -bench 'BotUsersResident/DefaultRetention' -benchtime 200000x .
//	go test -run '^$' -bench 'BotUsersResident/RetentionOff' -benchtime 200000x .
func BenchmarkBotUsersResident(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []iamkit.Option
	}{
		{"DefaultRetention", nil},
		{"RetentionOff", []iamkit.Option{iamkit.WithAuditRetention(rbac.Retention{})}},
	} {
		b.Run(c.name, func(b *testing.B) {
			st, err := memstore.New()
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			iam, err := iamkit.New(st, plans(b), c.opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			if err := iam.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer iam.Close(context.WithoutCancel(ctx))
			boot, err := iam.Bootstrap(ctx, iamkit.BootstrapSpec{AccountKey: "acme", AccountName: "Acme",
				Plan: identity.Enterprise().Name, AdminEmail: "admin@acme.test", AdminName: "Ada"})
			if err != nil {
				b.Fatal(err)
			}
			before := liveHeap()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := iam.BotUsers().Create(ctx, boot.Admin, botuser.CreateParams{Name: "bot-" + strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			events := 0
			if err := st.View(ctx, func(r store.Reader) error {
				p := store.Page{Limit: store.MaxPageLimit}
				for {
					evs, err := r.Events(ctx, boot.Account.ID, p)
					if err != nil {
						return err
					}
					events += len(evs)
					if len(evs) < p.Limit {
						return nil
					}
					p.BeforeID = evs[len(evs)-1].ID
				}
			}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(liveHeap()-before)/float64(b.N), "heap-B/bot")
			b.ReportMetric(float64(residentKB())/1024, "rss-MB")
			b.ReportMetric(float64(events), "events")
		})
	}
}

// liveHeap returns the bytes of live heap objects after two garbage collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// residentKB returns the process's resident set size (VmRSS), or 0 where /proc has none.
func residentKB() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}
