package memstore_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/iamkit/iamkit/botuser"
	"github.com/iamkit/iamkit/internal/testenv"
)

// BenchmarkMemoryPerBotUser creates bot users through botuser.Service on memstore, each
// with its bot_user_created audit event, and reports the live heap they add, per bot user
// (B/bot), after a garbage collection: what a deployment on memstore holds per bot user.
//
//	go test -run '^$' -bench MemoryPerBotUser -benchtime 20000x ./store/memstore
//
// With IAMKIT_HEAP_PROFILE=<file> it writes a heap profile of the live bot users there
// (run with -memprofilerate 512 for the small allocations).
func BenchmarkMemoryPerBotUser(b *testing.B) {
	e := testenv.New(b, nil)
	_, admin := e.Account("admin@example.com", "enterprise")
	bots, err := botuser.New(e.Store, e.Authz, botuser.WithClock(e.Clock))
	if err != nil {
		b.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	// Warm up: the first bots grow the radix trees' roots and the feed's ring.
	for i := range 5000 {
		if _, err := bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "warm-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	before := heap()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := bots.Create(e.Ctx, admin, botuser.CreateParams{Name: "bot-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(heap()-before)/float64(b.N), "B/bot")
	if path := os.Getenv("IAMKIT_HEAP_PROFILE"); path != "" { // where the bytes are, live
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
	}
	runtime.KeepAlive(bots)
}
