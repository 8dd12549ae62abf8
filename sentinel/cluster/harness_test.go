package cluster

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test harness: real memberlist instances on 127.0.0.1 with fast timings.

const waitFor = 15 * time.Second // generous: the race detector slows gossip down

// testLogger logs at Debug to stderr when VIGIL_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastConfig is a loopback configuration for node letter ("a", "b", ...):
// its id is the letter repeated 40 times, a valid hex run id.
func fastConfig(letter string) Config {
	return Config{
		NodeID:            strings.Repeat(letter, 40),
		RESPAddr:          "127.0.0.1:2637" + strconv.Itoa(int(letter[0]-'a')),
		Bind:              "127.0.0.1:0",
		Logger:            testLogger().With("node", letter),
		ProbeInterval:     100 * time.Millisecond,
		GossipInterval:    20 * time.Millisecond,
		PushPullInterval:  200 * time.Millisecond,
		BroadcastInterval: 50 * time.Millisecond,
		JoinRetryMax:      50 * time.Millisecond,
		ReconnectInterval: 100 * time.Millisecond,
	}
}

// recorder is a Handler that records every call. It answers a VoteRequest
// through its cluster when reply is set.
type recorder struct {
	mu       sync.Mutex
	local    NodeState
	states   map[string][]NodeState // by sender id, in arrival order
	messages []received
	changes  []change
	reply    bool
	cluster  *Cluster
}

type received struct {
	from Member
	msg  Message
}

type change struct {
	m     Member
	alive bool
}

func newRecorder() *recorder {
	return &recorder{states: map[string][]NodeState{}}
}

func (r *recorder) LocalState() NodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.local
}

func (r *recorder) setLocal(st NodeState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.local = st
}

func (r *recorder) HandleState(from Member, st NodeState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states[from.ID] = append(r.states[from.ID], st)
}

func (r *recorder) HandleMessage(from Member, m Message) {
	r.mu.Lock()
	r.messages = append(r.messages, received{from, m})
	reply, c := r.reply, r.cluster
	r.mu.Unlock()
	if req, ok := m.(VoteRequest); ok && reply {
		// An error (the requester briefly taken for dead) shows up as
		// a missing reply, which the requester retries.
		_ = c.Send(from.ID, VoteReply{
			Master: req.Master, Down: true, Leader: req.Candidate, LeaderEpoch: req.Epoch, ReqID: req.ReqID,
		})
	}
}

func (r *recorder) MembershipChanged(m Member, alive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, change{m, alive})
}

// lastState returns the latest state received from id.
func (r *recorder) lastState(id string) (NodeState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.states[id]
	if len(s) == 0 {
		return NodeState{}, false
	}
	return s[len(s)-1], true
}

// anyState reports whether some state received from id satisfies f.
func (r *recorder) anyState(id string, f func(NodeState) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.states[id] {
		if f(st) {
			return true
		}
	}
	return false
}

func (r *recorder) messageList() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.messages...)
}

// sawChange reports whether MembershipChanged(id, alive) was called.
func (r *recorder) sawChange(id string, alive bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.changes {
		if c.m.ID == id && c.alive == alive {
			return true
		}
	}
	return false
}

// node is a running Cluster with its recorder.
type node struct {
	*Cluster
	id   string
	rec  *recorder
	stop context.CancelFunc
	done chan error
}

// startNode creates a cluster from cfg and runs it until the test ends or
// stopRun is called.
func startNode(t *testing.T, cfg Config) *node {
	t.Helper()
	rec := newRecorder()
	rec.setLocal(NodeState{CurrentEpoch: 1})
	c, err := New(cfg, rec)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeID[:1], err)
	}
	rec.mu.Lock()
	rec.cluster = c
	rec.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{Cluster: c, id: cfg.NodeID, rec: rec, stop: cancel, done: make(chan error, 1)}
	go func() { n.done <- c.Run(ctx) }()
	t.Cleanup(func() { n.stopRun(t) })
	return n
}

// stopRun cancels Run and waits for it to return.
func (n *node) stopRun(t *testing.T) {
	t.Helper()
	n.stop()
	select {
	case err, ok := <-n.done:
		if ok {
			close(n.done)
			if err != nil {
				t.Logf("Run(%s): %v", n.id[:1], err)
			}
		}
	case <-time.After(waitFor):
		t.Errorf("Run(%s) did not return", n.id[:1])
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyRetrying(t, what, nil, cond)
}

// eventuallyRetrying is eventually, calling retry (if not nil) every 100
// polls: under a loaded test machine memberlist may briefly take a peer for
// dead, and a one-shot send to it is then skipped.
func eventuallyRetrying(t *testing.T, what string, retry func(), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 1; !cond(); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
		if retry != nil && i%100 == 0 {
			retry()
		}
	}
}

// aliveMembers returns the ids of the members n sees alive.
func aliveMembers(n *node) map[string]bool {
	out := map[string]bool{}
	for _, m := range n.Members() {
		if m.Alive {
			out[m.ID] = true
		}
	}
	return out
}

// waitConverged waits until every node sees every other one alive.
func waitConverged(t *testing.T, nodes ...*node) {
	t.Helper()
	eventually(t, "all nodes see each other", func() bool {
		for _, n := range nodes {
			alive := aliveMembers(n)
			if len(alive) != len(nodes)-1 {
				return false
			}
			for _, o := range nodes {
				if o != n && !alive[o.id] {
					return false
				}
			}
		}
		return true
	})
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
