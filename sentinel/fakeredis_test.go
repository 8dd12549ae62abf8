package sentinel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/fakeredis"
)

// TestFakeMastersMonitored checks that internal/fakeredis is a faithful
// enough master for the scale benchmark: a node watching fake masters keeps
// them healthy, and notices one that stops answering (frozen) and one that
// is gone (closed), while the healthy one never goes s_down.
func TestFakeMastersMonitored(t *testing.T) {
	const downAfter = 600 * time.Millisecond
	grp, err := fakeredis.StartGroup(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(grp.Close)
	masters := map[string]config.MasterConfig{}
	for i, m := range grp.Masters {
		masters[fmt.Sprintf("fake%d", i)] = master(t, m.Addr(), 1, downAfter)
	}
	n := startNode(t, testConfig(t, masters))
	events, cancel := n.Subscribe("*sdown")
	defer cancel()

	// Every fake is seen as a master that answered INFO.
	deadline := time.Now().Add(10 * time.Second)
	for i := range grp.Masters {
		for {
			out := redisCLI(t, n.Addr(), "SENTINEL", "MASTER", fmt.Sprintf("fake%d", i))
			f := fieldMap(out)
			if f["flags"] == "master" && f["role-reported"] == "master" && f["runid"] == grp.Masters[i].RunID() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fake%d never seen healthy: %s", i, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	grp.Masters[1].Freeze()
	grp.Masters[2].Close()
	want := map[string]bool{"+sdown fake1": true, "+sdown fake2": true}
	timeout := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-events:
			key := ev.Type + " " + masterOf(ev.Payload)
			if masterOf(ev.Payload) == "fake0" {
				t.Fatalf("healthy fake master: %s %s", ev.Type, ev.Payload)
			}
			delete(want, key)
		case <-timeout:
			t.Fatalf("no %v within 20 s", want)
		}
	}

	grp.Masters[1].Unfreeze()
	timeout = time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if masterOf(ev.Payload) == "fake0" {
				t.Fatalf("healthy fake master: %s %s", ev.Type, ev.Payload)
			}
			if ev.Type == "-sdown" && masterOf(ev.Payload) == "fake1" {
				return
			}
		case <-timeout:
			t.Fatal("no -sdown for the unfrozen fake master within 20 s")
		}
	}
}

// masterOf returns the master name of a "master <name> <ip> <port>" event
// payload, or "" for another kind of instance.
func masterOf(payload string) string {
	f := strings.Fields(payload)
	if len(f) >= 2 && f[0] == "master" {
		return f[1]
	}
	return ""
}
