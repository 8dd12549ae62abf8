package testbed

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Change is one change of a polled value: from At on, the poller saw Value.
// An empty Value means the poll got no (valid) answer.
type Change struct {
	At    time.Time `json:"at"`
	Value string    `json:"value"`
}

// timeline records the changes of one polled value.
type timeline struct {
	mu      sync.Mutex
	changes []Change
}

func (t *timeline) record(at time.Time, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.changes); n > 0 && t.changes[n-1].Value == value {
		return
	}
	t.changes = append(t.changes, Change{At: at, Value: value})
}

func (t *timeline) snapshot() []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Change(nil), t.changes...)
}

// valueAt returns the value in force at time at (the last change at or
// before it), or "" when there is none.
func valueAt(changes []Change, at time.Time) string {
	v := ""
	for _, c := range changes {
		if c.At.After(at) {
			break
		}
		v = c.Value
	}
	return v
}

// firstAt returns the first moment at or after from when changes holds
// value: from itself if value is in force then.
func firstAt(changes []Change, value string, from time.Time) (time.Time, bool) {
	if valueAt(changes, from) == value {
		return from, true
	}
	for _, c := range changes {
		if c.At.After(from) && c.Value == value {
			return c.At, true
		}
	}
	return time.Time{}, false
}

// poller runs one goroutine per target calling probe every interval.
type poller struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lines  map[string]*timeline
	order  []string
}

func startPoller(ctx context.Context, targets []string, interval time.Duration, probe func(ctx context.Context, target string) string) *poller {
	ctx, cancel := context.WithCancel(ctx)
	p := &poller{cancel: cancel, lines: map[string]*timeline{}, order: append([]string(nil), targets...)}
	for _, target := range targets {
		line := &timeline{}
		p.lines[target] = line
		p.wg.Go(func() {
			ticker := time.NewTicker(interval)
			defer ticker.Stop()
			for {
				v := probe(ctx, target)
				if ctx.Err() != nil {
					return
				}
				line.record(time.Now(), v)
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
				}
			}
		})
	}
	return p
}

func (p *poller) close() {
	p.cancel()
	p.wg.Wait()
}

func (p *poller) changes() map[string][]Change {
	out := make(map[string][]Change, len(p.lines))
	for target, line := range p.lines {
		out[target] = line.snapshot()
	}
	return out
}

// AddrPoller polls SENTINEL GET-MASTER-ADDR-BY-NAME on every controller and
// records when each one's answer changes.
type AddrPoller struct {
	p       *poller
	clients []*redis.Client
}

// PollMasterAddr starts polling the controllers at addrs for the master
// called name every interval, each with its own connection and a timeout of
// 200ms. Close it to stop.
func PollMasterAddr(ctx context.Context, addrs []string, name string, interval time.Duration) *AddrPoller {
	ap := &AddrPoller{}
	clients := map[string]*redis.Client{}
	for _, a := range addrs {
		c := NewClient(a, 200*time.Millisecond)
		clients[a] = c
		ap.clients = append(ap.clients, c)
	}
	ap.p = startPoller(ctx, addrs, interval, func(ctx context.Context, target string) string {
		addr, err := MasterAddrOf(ctx, clients[target], name)
		if err != nil {
			return ""
		}
		return addr
	})
	return ap
}

// Close stops polling and closes the connections.
func (ap *AddrPoller) Close() {
	ap.p.close()
	for _, c := range ap.clients {
		_ = c.Close()
	}
}

// Changes returns, for each controller address, the changes of its answer
// ("" while it did not answer).
func (ap *AddrPoller) Changes() map[string][]Change { return ap.p.changes() }

// Current returns each controller's latest answer.
func (ap *AddrPoller) Current() map[string]string {
	out := map[string]string{}
	for target, ch := range ap.p.changes() {
		if n := len(ch); n > 0 {
			out[target] = ch[n-1].Value
		}
	}
	return out
}

// AllAnswer returns the first moment at or after from by which every
// controller had answered addr (each controller's first such answer; the
// latest of them), or false if some controller never did.
func (ap *AddrPoller) AllAnswer(addr string, from time.Time) (time.Time, bool) {
	var latest time.Time
	for _, ch := range ap.p.changes() {
		at, ok := firstAt(ch, addr, from)
		if !ok {
			return time.Time{}, false
		}
		if at.After(latest) {
			latest = at
		}
	}
	return latest, true
}

// RoleState values recorded by a [RoleProber]: the answer to ROLE, with
// "+w" appended when the server also accepted a probe write.
const (
	StateMasterWritable = "master+w"
	StateMaster         = "master"
	StateReplica        = "slave"
)

// RoleProber polls every Redis server of a group with ROLE followed by a
// probe SET, recording when each server's state changes: "master+w" (says
// master and accepted the write), "master", "slave", or "" (no answer
// within the timeout). It shows split brain: two servers answering ROLE
// master, or accepting writes, at the same time.
type RoleProber struct {
	p       *poller
	clients []*redis.Client
}

// ProbeRoles starts probing servers ("host:port") every interval with a
// timeout of 100ms per command. Close it to stop.
func ProbeRoles(ctx context.Context, servers []string, interval time.Duration) *RoleProber {
	return ProbeRolesFrom(ctx, servers, interval, "")
}

// ProbeRolesFrom is [ProbeRoles] dialling from source (see [NewClientFrom]).
func ProbeRolesFrom(ctx context.Context, servers []string, interval time.Duration, source string) *RoleProber {
	rp := &RoleProber{}
	clients := map[string]*redis.Client{}
	for _, a := range servers {
		c := NewClientFrom(a, source, 100*time.Millisecond)
		clients[a] = c
		rp.clients = append(rp.clients, c)
	}
	var mu sync.Mutex
	seq := map[string]int64{}
	rp.p = startPoller(ctx, servers, interval, func(ctx context.Context, target string) string {
		c := clients[target]
		reply, err := c.Do(ctx, "ROLE").Slice()
		if err != nil || len(reply) == 0 {
			return ""
		}
		role, _ := reply[0].(string)
		mu.Lock()
		seq[target]++
		n := seq[target]
		mu.Unlock()
		if c.Set(ctx, "testbed:probe:"+target, strconv.FormatInt(n, 10), 0).Err() == nil {
			return role + "+w"
		}
		return role
	})
	return rp
}

// Close stops probing and closes the connections.
func (rp *RoleProber) Close() {
	rp.p.close()
	for _, c := range rp.clients {
		_ = c.Close()
	}
}

// Changes returns, for each server, the changes of its state.
func (rp *RoleProber) Changes() map[string][]Change { return rp.p.changes() }

// Current returns each server's latest state.
func (rp *RoleProber) Current() map[string]string {
	out := map[string]string{}
	for target, ch := range rp.p.changes() {
		if n := len(ch); n > 0 {
			out[target] = ch[n-1].Value
		}
	}
	return out
}

// Overlap returns how long, within [from, to], at least two of the
// timelines were in a state accepted by pred at the same time.
func Overlap(timelines map[string][]Change, from, to time.Time, pred func(string) bool) time.Duration {
	if !to.After(from) {
		return 0
	}
	points := []time.Time{from}
	for _, ch := range timelines {
		for _, c := range ch {
			if c.At.After(from) && c.At.Before(to) {
				points = append(points, c.At)
			}
		}
	}
	slices.SortFunc(points, func(a, b time.Time) int { return a.Compare(b) })
	points = append(points, to)
	var total time.Duration
	for i := 0; i+1 < len(points); i++ {
		start, end := points[i], points[i+1]
		if !end.After(start) {
			continue
		}
		n := 0
		for _, ch := range timelines {
			if pred(valueAt(ch, start)) {
				n++
			}
		}
		if n >= 2 {
			total += end.Sub(start)
		}
	}
	return total
}

// IsMaster accepts the states of a server answering ROLE master.
func IsMaster(state string) bool { return state == StateMaster || state == StateMasterWritable }

// IsWritable accepts the state of a server that accepted a probe write.
func IsWritable(state string) bool { return state == StateMasterWritable || state == StateReplica+"+w" }
