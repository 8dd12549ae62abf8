package sentinel

import "sync"

// mailbox is how other goroutines hand work to a loop goroutine (the link
// set, the client loop): messages are appended under a mutex and the loop
// takes them all at once, once a pass.
type mailbox[T any] struct {
	mu     sync.Mutex
	msgs   []T
	closed bool

	spare []T // owned by the loop: the slice of the last take, for reuse
}

// put appends m. first reports that the box was empty, so the loop must be
// woken; ok is false, and m not taken, once the box is closed.
func (b *mailbox[T]) put(m T) (first, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, false
	}
	b.msgs = append(b.msgs, m)
	return len(b.msgs) == 1, true
}

// take returns the messages put since the last take. The loop hands the
// slice back with done when it has handled them.
func (b *mailbox[T]) take() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs := b.msgs
	b.msgs, b.spare = b.spare[:0], nil
	return msgs
}

// done recycles the slice of a take; one grown by a burst (start-up) is
// not kept.
func (b *mailbox[T]) done(msgs []T) {
	clear(msgs)
	if cap(msgs) <= 64 {
		b.spare = msgs[:0]
	}
}

// close refuses every later put and returns the messages not taken.
func (b *mailbox[T]) close() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	msgs := b.msgs
	b.msgs = nil
	return msgs
}
