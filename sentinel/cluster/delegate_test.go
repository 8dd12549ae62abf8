package cluster

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Garbage delivered straight to the delegate, as memberlist would deliver
// it, is dropped without reaching the handler.
func TestDelegateDropsGarbage(t *testing.T) {
	acfg, bcfg := fastConfig("a"), fastConfig("b")
	for _, cfg := range []*Config{&acfg, &bcfg} {
		cfg.BroadcastInterval, cfg.PushPullInterval = time.Hour, time.Hour
	}
	a := startNode(t, acfg)
	bcfg.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	waitConverged(t, a, b)
	del := a.del

	const bad = 666 // CurrentEpoch / Epoch of every refused input
	state := func(from, resp string) []byte {
		return mustEncode(t, NodeState{From: from, RESPAddr: resp, Boot: 1, Seq: 9, CurrentEpoch: bad})
	}
	stranger := strings.Repeat("f", 40)
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	oversized := append([]byte{wireVersion, byte(KindState)}, bytes.Repeat([]byte(" "), MaxMessageSize)...)
	voteReq := mustEncode(t, VoteRequest{From: b.id, Master: "m", MasterAddr: "h:1", Epoch: bad})

	viaMsg := map[string][]byte{
		"empty":              {},
		"one byte":           {wireVersion},
		"random bytes":       random,
		"wrong version":      append([]byte{9}, state(b.id, bcfg.RESPAddr)[1:]...),
		"unknown kind":       append([]byte{wireVersion, 200}, state(b.id, bcfg.RESPAddr)[2:]...),
		"oversized":          oversized,
		"invalid json":       []byte("\x01\x01{\"from\":"),
		"missing field":      []byte("\x01\x01" + `{"from":"` + b.id + `","resp_addr":"` + bcfg.RESPAddr + `","boot":1,"seq":9,"current_epoch":666,"sent_at_ms":1}`),
		"null field":         []byte("\x01\x01" + `{"from":"` + b.id + `","resp_addr":"` + bcfg.RESPAddr + `","boot":1,"seq":9,"current_epoch":666,"sent_at_ms":1,"masters":null}`),
		"from stranger":      state(stranger, bcfg.RESPAddr),
		"from self":          state(a.id, acfg.RESPAddr),
		"resp addr mismatch": state(b.id, "10.9.9.9:26379"),
		"vote from stranger": mustEncode(t, VoteRequest{From: stranger, Master: "m", MasterAddr: "h:1", Epoch: bad}),
		"vote from self":     mustEncode(t, VoteRequest{From: a.id, Master: "m", MasterAddr: "h:1", Epoch: bad}),
	}
	viaPushPull := map[string][]byte{
		"random bytes":       random,
		"from stranger":      state(stranger, bcfg.RESPAddr),
		"resp addr mismatch": state(b.id, "10.9.9.9:26379"),
		"direct message":     voteReq,
	}

	before := del.dropped.Load()
	for name, buf := range viaMsg {
		t.Run("NotifyMsg/"+name, func(t *testing.T) {
			n := del.dropped.Load()
			del.NotifyMsg(buf)
			if del.dropped.Load() != n+1 {
				t.Error("not dropped")
			}
		})
	}
	for name, buf := range viaPushPull {
		t.Run("MergeRemoteState/"+name, func(t *testing.T) {
			n := del.dropped.Load()
			del.MergeRemoteState(buf, false)
			if del.dropped.Load() != n+1 {
				t.Error("not dropped")
			}
		})
	}
	if got, want := del.dropped.Load()-before, uint64(len(viaMsg)+len(viaPushPull)); got != want {
		t.Errorf("dropped %d, want %d", got, want)
	}

	// A valid state queued after the garbage reaches the handler, so the
	// garbage would have reached it first had it been queued.
	del.NotifyMsg(mustEncode(t, NodeState{From: b.id, RESPAddr: bcfg.RESPAddr, Boot: 1, Seq: 1, CurrentEpoch: 777}))
	eventually(t, "the valid state arrives", func() bool {
		return a.rec.anyState(b.id, func(st NodeState) bool { return st.CurrentEpoch == 777 })
	})
	if a.rec.anyState(b.id, func(st NodeState) bool { return st.CurrentEpoch == bad }) ||
		a.rec.anyState(stranger, func(NodeState) bool { return true }) ||
		a.rec.anyState(a.id, func(NodeState) bool { return true }) {
		t.Error("the handler got a refused state")
	}
	if msgs := a.rec.messageList(); len(msgs) != 0 {
		t.Errorf("the handler got refused messages: %+v", msgs)
	}
}

// A peer's states reach the handler in the order the peer produced them,
// whatever order the network delivers them in.
func TestDelegateDeliversStatesInOrder(t *testing.T) {
	acfg, bcfg := fastConfig("a"), fastConfig("b")
	for _, cfg := range []*Config{&acfg, &bcfg} {
		cfg.BroadcastInterval, cfg.PushPullInterval = time.Hour, time.Hour
	}
	a := startNode(t, acfg)
	bcfg.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	waitConverged(t, a, b)

	deliver := func(boot, seq, epoch uint64) {
		a.del.NotifyMsg(mustEncode(t, NodeState{From: b.id, RESPAddr: bcfg.RESPAddr, Boot: boot, Seq: seq, CurrentEpoch: epoch}))
	}
	deliver(7, 5, 500)
	deliver(7, 3, 300) // an older copy arriving late: skipped
	deliver(7, 5, 501) // a repeat of seq 5: skipped
	deliver(8, 1, 100) // b restarted: a new boot starts over
	eventually(t, "the restarted b's state arrives", func() bool {
		got, ok := a.rec.lastState(b.id)
		return ok && got.CurrentEpoch == 100
	})
	if a.rec.anyState(b.id, func(st NodeState) bool { return st.CurrentEpoch == 300 || st.CurrentEpoch == 501 }) {
		t.Error("an out-of-order state reached the handler")
	}
}

func TestInboxCoalescesStatesAndBoundsMessages(t *testing.T) {
	in := newInbox(testLogger())
	b := Member{ID: strings.Repeat("b", 40), Alive: true}
	c := Member{ID: strings.Repeat("c", 40), Alive: true}
	in.putMembership(b, true)
	in.putState(b, NodeState{CurrentEpoch: 1})
	in.putState(c, NodeState{CurrentEpoch: 5})
	in.putState(b, NodeState{CurrentEpoch: 2}) // replaces epoch 1 in place
	for range maxPendingMessages + 10 {
		in.putMessage(c, VoteReply{})
	}
	var got []string
	msgs := 0
	for e, ok := in.next(); ok; e, ok = in.next() {
		switch e.kind {
		case evMembership:
			got = append(got, "join "+e.from.ID[:1])
		case evState:
			got = append(got, "state "+e.from.ID[:1]+" "+string(rune('0'+e.state.CurrentEpoch)))
		case evMessage:
			msgs++
		}
	}
	want := []string{"join b", "state b 2", "state c 5"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("events %q, want %q", got, want)
	}
	if msgs != maxPendingMessages {
		t.Errorf("%d messages kept, want %d", msgs, maxPendingMessages)
	}
	in.putState(b, NodeState{CurrentEpoch: 3}) // queued anew once delivered
	if e, ok := in.next(); !ok || e.state.CurrentEpoch != 3 {
		t.Errorf("after delivery, next = %+v, %t", e, ok)
	}
}

func TestDropLogRateLimits(t *testing.T) {
	var buf bytes.Buffer
	d := newDropLog(slogTo(&buf), time.Hour)
	for range 5 {
		d.log(slog.LevelWarn, "bad input", nil)
	}
	d.log(slog.LevelWarn, "other input", nil)
	if n := strings.Count(buf.String(), "bad input"); n != 1 {
		t.Errorf("%d lines for one reason in an interval, want 1:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "other input") {
		t.Error("another reason was held back")
	}
}

func TestMemberlistLogLevels(t *testing.T) {
	var buf bytes.Buffer
	w := memberlistLogWriter{slogTo(&buf)}
	for _, line := range []string{
		"[ERR] memberlist: Failed to send ping: refused\n",
		"[DEBUG] memberlist: Initiating push/pull sync\n",
	} {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatalf("Write(%q): %v", line, err)
		}
	}
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="Failed to send ping: refused"`) ||
		!strings.Contains(out, `level=DEBUG msg="Initiating push/pull sync"`) {
		t.Errorf("log output:\n%s", out)
	}
}
