package sentinel

import (
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/glob"
)

// Event is one Sentinel event: its type is also the Pub/Sub channel it is
// published on (e.g. "+switch-master"), Payload is the message text.
type Event struct {
	Type    string
	Payload string
	Time    time.Time
	// Warning marks the events Sentinel logs at WARNING level (they are the
	// ones that trigger notification scripts).
	Warning bool
}

// subscriberBuffer is how many events a slow subscriber may fall behind
// before it is disconnected, like redis-server's Pub/Sub output buffer limit.
const subscriberBuffer = 4096

// bus fans events out to Pub/Sub subscribers. Publishing never blocks: a
// subscriber that cannot keep up is dropped.
type bus struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	log  *slog.Logger
}

type subscriber struct {
	ch       chan Event
	channels map[string]struct{}
	patterns map[string]struct{}
	dropped  chan struct{} // closed when the bus drops the subscriber
	pumping  bool          // a goroutine delivers ch to the client; owned by the connection
}

func newBus(log *slog.Logger) *bus {
	return &bus{subs: map[*subscriber]struct{}{}, log: log}
}

func (b *bus) subscribe() *subscriber {
	s := &subscriber{
		ch:       make(chan Event, subscriberBuffer),
		channels: map[string]struct{}{},
		patterns: map[string]struct{}{},
		dropped:  make(chan struct{}),
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *bus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.dropped)
	}
	b.mu.Unlock()
}

// update changes a subscriber's channel or pattern set under the bus lock.
func (b *bus) update(fn func()) {
	b.mu.Lock()
	fn()
	b.mu.Unlock()
}

// matches reports whether s wants events of type typ.
func (s *subscriber) matches(typ string) bool {
	if _, ok := s.channels[typ]; ok {
		return true
	}
	for p := range s.patterns {
		if globMatch(p, typ) {
			return true
		}
	}
	return false
}

func (b *bus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if !s.matches(ev.Type) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			b.log.Warn("dropping slow event subscriber", "buffered", len(s.ch))
			delete(b.subs, s)
			close(s.dropped)
		}
	}
}

// globMatch matches Redis-style glob patterns (see internal/glob).
func globMatch(pattern, s string) bool { return glob.Match(pattern, s) }
