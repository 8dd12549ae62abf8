package sentinel

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/fakeredis"
)

// TestProfileIdleMasters is a profiling harness, not a check: with
// VIGIL_PROFILE_MASTERS=N it runs one node monitoring N fake masters (in
// this process) for VIGIL_PROFILE_SECONDS (default 20) once all are seen,
// so that VIGIL_PROFILE_CPU=file (a CPU profile of the idle period only)
// and VIGIL_PROFILE_HEAP=file (a heap profile taken while the node runs)
// show where an idle node spends:
//
//	VIGIL_PROFILE_MASTERS=1000 VIGIL_PROFILE_CPU=cpu.out \
//	  go test -run TestProfileIdleMasters -o sentinel.test ./sentinel/
//	go tool pprof -top -focus sentinel sentinel.test cpu.out
//
// The fake masters run in the same process, so their share of the CPU
// profile is theirs, not the node's (filter with -focus/-ignore).
func TestProfileIdleMasters(t *testing.T) {
	count, _ := strconv.Atoi(os.Getenv("VIGIL_PROFILE_MASTERS"))
	if count < 1 {
		t.Skip("set VIGIL_PROFILE_MASTERS=N to profile a node monitoring N fake masters")
	}
	if os.Getenv("VIGIL_PROFILE_HEAP") != "" {
		runtime.MemProfileRate = 512 // fine-grained: the node's objects are small
	}
	secs, _ := strconv.Atoi(os.Getenv("VIGIL_PROFILE_SECONDS"))
	if secs < 1 {
		secs = 20
	}
	grp, err := fakeredis.StartGroup(t.Context(), count)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(grp.Close)
	masters := map[string]config.MasterConfig{}
	for i, m := range grp.Masters {
		masters[fmt.Sprintf("m%04d", i)] = master(t, m.Addr(), 1, 5*time.Second)
	}
	n, err := New(testConfig(t, masters), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(60 * time.Second)
	for {
		n.mu.Lock()
		seen := 0
		for _, g := range n.groups {
			if g.master.runID != "" {
				seen++
			}
		}
		n.mu.Unlock()
		if seen == count {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d masters seen", seen, count)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if path := os.Getenv("VIGIL_PROFILE_HEAP"); path != "" {
		// A profile at the start of the idle period too: what the node
		// allocates while idle is the difference (pprof -base). A heap
		// profile is as of the last GC: collect first, so that the start
		// is not counted as idle.
		runtime.GC()
		writeHeapProfile(t, path+".base")
	}
	if path := os.Getenv("VIGIL_PROFILE_CPU"); path != "" {
		// Only the idle period: -cpuprofile would include the start.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	time.Sleep(time.Duration(secs) * time.Second) // the idle period being profiled
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if path := os.Getenv("VIGIL_PROFILE_HEAP"); path != "" {
		// Written here, while the node runs: -memprofile is written after
		// the test's cleanup has stopped it.
		writeHeapProfile(t, path)
	}
	t.Logf("%d masters: %d goroutines, heap in use %.1f MiB, stacks %.1f MiB, sys %.1f MiB",
		count, runtime.NumGoroutine(), float64(ms.HeapInuse)/(1<<20), float64(ms.StackInuse)/(1<<20), float64(ms.Sys)/(1<<20))
}

func writeHeapProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
