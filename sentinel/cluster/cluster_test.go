package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// Real-socket scenarios: memberlist instances on 127.0.0.1.

func TestThreeNodesJoinThroughSeed(t *testing.T) {
	c := startNode(t, fastConfig("c"))
	acfg, bcfg := fastConfig("a"), fastConfig("b")
	acfg.Join = []string{c.GossipAddr()}
	bcfg.Join = []string{c.GossipAddr()}
	a, b := startNode(t, acfg), startNode(t, bcfg)

	waitConverged(t, a, b, c)
	if n, err := a.Join([]string{a.GossipAddr()}); n != 0 || err != nil {
		t.Errorf("joining itself: %d, %v; want it skipped", n, err)
	}
	for _, n := range []*node{a, b, c} {
		for _, m := range n.Members() {
			want := map[string]*node{a.id: a, b.id: b, c.id: c}[m.ID]
			if m.GossipAddr != want.GossipAddr() {
				t.Errorf("%s sees %s at %s, want %s", n.id[:1], m.ID[:1], m.GossipAddr, want.GossipAddr())
			}
			if m.RESPAddr != want.cfg.RESPAddr {
				t.Errorf("%s sees %s RESP at %s, want %s", n.id[:1], m.ID[:1], m.RESPAddr, want.cfg.RESPAddr)
			}
		}
	}
	eventually(t, "every node was told of the two others joining", func() bool {
		return a.rec.sawChange(b.id, true) && a.rec.sawChange(c.id, true) &&
			b.rec.sawChange(a.id, true) && b.rec.sawChange(c.id, true) &&
			c.rec.sawChange(a.id, true) && c.rec.sawChange(b.id, true)
	})
}

func TestJoinRetriesUntilSeedIsUp(t *testing.T) {
	seedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	acfg := fastConfig("a")
	acfg.Join = []string{seedAddr}
	a := startNode(t, acfg)
	eventually(t, "a tried to join twice", func() bool { return a.joins.Load() >= 2 })

	ccfg := fastConfig("c")
	ccfg.Bind = seedAddr // c has no seeds: only a's retries can bring them together
	c := startNode(t, ccfg)
	waitConverged(t, a, c)
}

func TestBroadcastReachesPeers(t *testing.T) {
	// No periodic broadcast and no periodic push/pull: only Broadcast
	// can carry b's new state.
	cfgs := map[string]Config{}
	for _, l := range []string{"a", "b", "c"} {
		cfg := fastConfig(l)
		cfg.BroadcastInterval = time.Hour
		cfg.PushPullInterval = time.Hour
		cfgs[l] = cfg
	}
	c := startNode(t, cfgs["c"])
	acfg, bcfg := cfgs["a"], cfgs["b"]
	acfg.Join, bcfg.Join = []string{c.GossipAddr()}, []string{c.GossipAddr()}
	a, b := startNode(t, acfg), startNode(t, bcfg)
	waitConverged(t, a, b, c)

	st := NodeState{CurrentEpoch: 7, Masters: []MasterState{{
		Name: "mymaster", Addr: "127.0.0.1:6379", ConfigEpoch: 3, SDown: true, SDownSinceMs: 1500,
		LeaderEpoch: 7, Leader: b.id,
	}}}
	b.rec.setLocal(st)
	rebroadcast := func() { b.Broadcast(b.rec.LocalState()) }
	rebroadcast()
	for _, n := range []*node{a, c} {
		eventuallyRetrying(t, n.id[:1]+" gets b's epoch 7 state", rebroadcast, func() bool {
			got, ok := n.rec.lastState(b.id)
			return ok && got.CurrentEpoch == 7
		})
		got, _ := n.rec.lastState(b.id)
		if got.From != b.id || got.RESPAddr != bcfg.RESPAddr || got.SentAt == 0 {
			t.Errorf("%s got From=%q RESPAddr=%q SentAt=%d; the cluster should stamp them",
				n.id[:1], got.From, got.RESPAddr, got.SentAt)
		}
		if len(got.Masters) != 1 || got.Masters[0] != st.Masters[0] {
			t.Errorf("%s got masters %+v, want %+v", n.id[:1], got.Masters, st.Masters)
		}
	}

	// A state too large for a UDP packet goes over TCP.
	big := NodeState{CurrentEpoch: 8}
	for i := range 200 {
		big.Masters = append(big.Masters, MasterState{Name: fmt.Sprintf("master-%03d", i), Addr: "10.0.0.1:6379"})
	}
	if b, _ := encode(big); len(b) <= a.udpLimit {
		t.Fatalf("test state is %d bytes, want more than %d", len(b), a.udpLimit)
	}
	rebroadcast = func() { b.Broadcast(big) }
	rebroadcast()
	for _, n := range []*node{a, c} {
		eventuallyRetrying(t, n.id[:1]+" gets b's large state", rebroadcast, func() bool {
			got, ok := n.rec.lastState(b.id)
			return ok && got.CurrentEpoch == 8 && len(got.Masters) == 200
		})
	}
}

func TestPushPullConvergesLateJoiner(t *testing.T) {
	// No periodic broadcast: states travel only by push/pull.
	cfgs := map[string]Config{}
	for _, l := range []string{"a", "b", "c", "d"} {
		cfg := fastConfig(l)
		cfg.BroadcastInterval = time.Hour
		cfg.PushPullInterval = 100 * time.Millisecond
		cfgs[l] = cfg
	}
	a := startNode(t, cfgs["a"])
	for _, l := range []string{"b", "c", "d"} {
		cfg := cfgs[l]
		cfg.Join = []string{a.GossipAddr()}
		cfgs[l] = cfg
	}
	b, c := startNode(t, cfgs["b"]), startNode(t, cfgs["c"])
	nodes := []*node{a, b, c}
	for i, n := range nodes {
		n.rec.setLocal(NodeState{CurrentEpoch: uint64(10 + i)})
	}
	waitConverged(t, nodes...)

	d := startNode(t, cfgs["d"])
	d.rec.setLocal(NodeState{CurrentEpoch: 99})
	nodes = append(nodes, d)
	waitConverged(t, nodes...)
	for i, n := range nodes[:3] {
		eventually(t, "d has "+n.id[:1]+"'s state", func() bool {
			got, ok := d.rec.lastState(n.id)
			return ok && got.CurrentEpoch == uint64(10+i)
		})
		eventually(t, n.id[:1]+" has d's state", func() bool {
			got, ok := n.rec.lastState(d.id)
			return ok && got.CurrentEpoch == 99
		})
	}
}

func TestSendVoteRequestAndReply(t *testing.T) {
	a := startNode(t, fastConfig("a"))
	bcfg := fastConfig("b")
	bcfg.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	b.rec.mu.Lock()
	b.rec.reply = true
	b.rec.mu.Unlock()
	waitConverged(t, a, b)

	req := VoteRequest{Master: "mymaster", MasterAddr: "127.0.0.1:6379", Epoch: 5, Candidate: a.id, ReqID: 42}
	send := func() {
		if err := a.Send(b.id, req); err != nil {
			t.Logf("Send (will retry): %v", err) // b may be briefly taken for dead on a loaded machine
		}
	}
	send()
	eventuallyRetrying(t, "a gets b's reply", send, func() bool { return len(a.rec.messageList()) > 0 })
	wantReq := req
	wantReq.From = a.id
	for _, got := range b.rec.messageList() {
		if got.from.ID != a.id || got.msg != wantReq {
			t.Errorf("b got %+v from %s, want %+v from a", got.msg, got.from.ID, wantReq)
		}
	}
	reply := a.rec.messageList()[0]
	wantReply := VoteReply{From: b.id, Master: "mymaster", Down: true, Leader: a.id, LeaderEpoch: 5, ReqID: 42}
	if reply.from.ID != b.id || reply.msg != wantReply {
		t.Errorf("a got %+v from %s, want %+v from b", reply.msg, reply.from.ID, wantReply)
	}

	for _, to := range []string{a.id, "0123456789abcdef0123456789abcdef01234567"} {
		if err := a.Send(to, req); !errors.Is(err, ErrUnknownMember) {
			t.Errorf("Send to %s: %v, want ErrUnknownMember", to, err)
		}
	}
}

func TestLeaveIsSeenByPeers(t *testing.T) {
	c := startNode(t, fastConfig("c"))
	acfg, bcfg := fastConfig("a"), fastConfig("b")
	acfg.Join, bcfg.Join = []string{c.GossipAddr()}, []string{c.GossipAddr()}
	a, b := startNode(t, acfg), startNode(t, bcfg)
	waitConverged(t, a, b, c)

	b.stopRun(t)
	for _, n := range []*node{a, c} {
		eventually(t, n.id[:1]+" is told b left", func() bool { return n.rec.sawChange(b.id, false) })
		eventually(t, n.id[:1]+" lists b as not alive", func() bool {
			for _, m := range n.Members() {
				if m.ID == b.id {
					return !m.Alive
				}
			}
			return false
		})
	}
	if err := a.Send(b.id, VoteRequest{Master: "m", MasterAddr: "h:1"}); !errors.Is(err, ErrMemberDown) {
		t.Errorf("Send to departed b: %v, want ErrMemberDown", err)
	}
}

func TestFailureDetectedAndReconnected(t *testing.T) {
	a := startNode(t, fastConfig("a"))
	bcfg, ccfg := fastConfig("b"), fastConfig("c")
	bcfg.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	ccfg.Join = []string{a.GossipAddr()}
	c := startNode(t, ccfg)
	waitConverged(t, a, b, c)

	// c crashes: no leave message, peers must detect it by probing.
	cAddr := c.GossipAddr()
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		eventually(t, n.id[:1]+" is told c failed", func() bool { return n.rec.sawChange(c.id, false) })
	}

	// c restarts on the same address with no seeds; a and b reconnect to it.
	ccfg.Bind, ccfg.Join = cAddr, nil
	c2 := startNode(t, ccfg)
	waitConverged(t, a, b, c2)
}

func TestSecretKeyKeepsOutsidersOut(t *testing.T) {
	key := []byte("0123456789abcdef")
	acfg, bcfg, ccfg := fastConfig("a"), fastConfig("b"), fastConfig("c")
	acfg.SecretKey, bcfg.SecretKey = key, key
	a := startNode(t, acfg)
	bcfg.Join = []string{a.GossipAddr()}
	b := startNode(t, bcfg)
	waitConverged(t, a, b)

	c, err := New(ccfg, newRecorder()) // no key
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Shutdown() }()
	if n, err := c.Join([]string{a.GossipAddr()}); err == nil || n != 0 {
		t.Errorf("join without the key: %d answered, err %v; want refused", n, err)
	}
	for _, m := range a.Members() {
		if m.ID == ccfg.NodeID {
			t.Errorf("a lists c, which has no key: %+v", m)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"empty id":          func(c *Config) { c.NodeID = "" },
		"id with space":     func(c *Config) { c.NodeID = "a b" },
		"id too long":       func(c *Config) { c.NodeID = fmt.Sprintf("%065d", 0) },
		"no resp addr":      func(c *Config) { c.RESPAddr = "" },
		"resp addr no port": func(c *Config) { c.RESPAddr = "10.0.0.1" },
		"bind hostname":     func(c *Config) { c.Bind = "localhost:0" },
		"bind no port":      func(c *Config) { c.Bind = "127.0.0.1" },
		"advertise host":    func(c *Config) { c.Advertise = "example.com:7946" },
		"negative interval": func(c *Config) { c.ProbeInterval = -time.Second },
		"short secret key":  func(c *Config) { c.SecretKey = []byte("short") },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := fastConfig("a")
			mutate(&cfg)
			if c, err := New(cfg, newRecorder()); err == nil {
				_ = c.Shutdown()
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := New(fastConfig("a"), nil); err == nil {
		t.Error("New accepted a nil handler")
	}
}

func TestShutdownWithoutRun(t *testing.T) {
	c, err := New(fastConfig("a"), newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := c.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Shutdown: %v, want ErrClosed", err)
	}
}
