package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
)

// maxPendingMessages bounds the direct messages waiting for the Handler;
// more are dropped. States are bounded by coalescing (one per peer) and
// membership events by the number of nodes.
const maxPendingMessages = 1024

var errInboxFull = errors.New("too many messages waiting for the handler")

type eventKind int

const (
	evMembership eventKind = iota
	evState
	evMessage
)

// event is one pending Handler call.
type event struct {
	kind  eventKind
	from  Member
	alive bool      // evMembership
	state NodeState // evState
	msg   Message   // evMessage
}

// inbox queues Handler calls in arrival order, so that memberlist's
// goroutines never wait for the Handler, and run delivers them one at a
// time.
type inbox struct {
	drops  *dropLog
	wake   chan struct{}
	mu     sync.Mutex
	queue  []*event
	states map[string]*event // the pending state of each peer
	msgs   int               // pending evMessage events
}

func newInbox(log *slog.Logger) *inbox {
	return &inbox{
		drops:  newDropLog(log, dropLogEvery),
		wake:   make(chan struct{}, 1),
		states: map[string]*event{},
	}
}

func (in *inbox) putMembership(m Member, alive bool) {
	in.put(&event{kind: evMembership, from: m, alive: alive})
}

// putState queues st, or replaces the state from the same peer that is
// still waiting (keeping its place in the queue).
func (in *inbox) putState(from Member, st NodeState) {
	in.mu.Lock()
	if e, ok := in.states[from.ID]; ok {
		e.from, e.state = from, st
		in.mu.Unlock()
		return
	}
	e := &event{kind: evState, from: from, state: st}
	in.states[from.ID] = e
	in.queue = append(in.queue, e)
	in.mu.Unlock()
	in.signal()
}

// putMessage queues m unless maxPendingMessages are already waiting.
func (in *inbox) putMessage(from Member, m Message) {
	in.mu.Lock()
	if in.msgs >= maxPendingMessages {
		in.mu.Unlock()
		in.drops.log(slog.LevelWarn, "message dropped", errInboxFull, "from", from.ID, "kind", m.Kind())
		return
	}
	in.msgs++
	in.queue = append(in.queue, &event{kind: evMessage, from: from, msg: m})
	in.mu.Unlock()
	in.signal()
}

func (in *inbox) put(e *event) {
	in.mu.Lock()
	in.queue = append(in.queue, e)
	in.mu.Unlock()
	in.signal()
}

func (in *inbox) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// next removes and returns the oldest pending event.
func (in *inbox) next() (*event, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.queue) == 0 {
		return nil, false
	}
	e := in.queue[0]
	in.queue[0] = nil
	in.queue = in.queue[1:]
	switch e.kind {
	case evState:
		delete(in.states, e.from.ID)
	case evMessage:
		in.msgs--
	}
	return e, true
}

// run delivers events to h until ctx ends.
func (in *inbox) run(ctx context.Context, h Handler) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in.wake:
		}
		for ctx.Err() == nil {
			e, ok := in.next()
			if !ok {
				break
			}
			switch e.kind {
			case evMembership:
				h.MembershipChanged(e.from, e.alive)
			case evState:
				h.HandleState(e.from, e.state)
			case evMessage:
				h.HandleMessage(e.from, e.msg)
			}
		}
	}
}
