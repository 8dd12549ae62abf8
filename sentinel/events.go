package sentinel

import (
	"log/slog"
	"sync"
	"time"
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

// globMatch matches Redis-style glob patterns as redis-server's stringmatch
// does: * and ? (any byte, '/' included), [abc], [^a-z], and \x escapes.
// It backtracks only to the last star, so it runs in O(len(pattern)*len(s))
// whatever a client subscribes with.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				for p < len(pattern) && pattern[p] == '*' {
					p++
				}
				if p == len(pattern) {
					return true
				}
				starP, starI = p, i
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if rest, ok := matchClass(pattern[p+1:], s[i]); ok {
					p = len(pattern) - len(rest)
					i++
					continue
				}
			default:
				if c == '\\' && p+1 < len(pattern) {
					if pattern[p+1] == s[i] {
						p += 2
						i++
						continue
					}
				} else if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the character class that starts at p (just
// after '['). It returns the pattern after the class and whether c matched.
func matchClass(p string, c byte) (string, bool) {
	negate := false
	if len(p) > 0 && p[0] == '^' {
		negate = true
		p = p[1:]
	}
	matched := false
	for len(p) > 0 && p[0] != ']' {
		switch {
		case p[0] == '\\' && len(p) >= 2:
			if p[1] == c {
				matched = true
			}
			p = p[2:]
		case len(p) >= 3 && p[1] == '-' && p[2] != ']':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				matched = true
			}
			p = p[3:]
		default:
			if p[0] == c {
				matched = true
			}
			p = p[1:]
		}
	}
	if len(p) > 0 {
		p = p[1:] // skip ']'
	}
	return p, matched != negate
}
