package testbed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writer defaults.
const (
	DefaultWriteInterval = time.Millisecond
	DefaultWriteTimeout  = 200 * time.Millisecond
	DefaultKeyPrefix     = "testbed:w:"
	// readBackBatch is how many keys one MGET of [LostWrites] asks for.
	readBackBatch = 500
)

// WriterOptions configures a [Writer].
type WriterOptions struct {
	// MasterName is the name to resolve through the controllers.
	MasterName string
	// Controllers are the controllers' "host:port" RESP addresses.
	Controllers []string
	// Interval is the time between the starts of two writes; a write that
	// takes longer delays the next one, with no catching up afterwards.
	// Zero means DefaultWriteInterval.
	Interval time.Duration
	// Timeout is the client's dial, read and write timeout. Zero means
	// DefaultWriteTimeout.
	Timeout time.Duration
	// KeyPrefix is put before the sequence number to make each key. Empty
	// means DefaultKeyPrefix.
	KeyPrefix string
	// Route, if not nil, maps an address the client is about to dial (one
	// the controllers advertised) to the address really dialled, e.g. the
	// server behind a proxy that only the controllers go through. Write.Addr
	// records the address really dialled.
	Route func(addr string) string
}

// Write is one SET the writer attempted.
type Write struct {
	// Seq is the write's sequence number: it wrote key KeyPrefix+Seq with
	// the value Seq.
	Seq int64 `json:"seq"`
	// Start and End bracket the attempt; End is the acknowledgement time of
	// an acknowledged write.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Addr is the Redis server that answered an acknowledged write.
	Addr string `json:"addr,omitempty"`
	// Err is why the write failed; empty when it was acknowledged.
	Err string `json:"err,omitempty"`
}

// Acked reports whether the server acknowledged the write.
func (w Write) Acked() bool { return w.Err == "" }

// Writer is a client writing through discovery at a steady rate: a go-redis
// FailoverClient pointed at the controllers (so it resolves the master with
// SENTINEL GET-MASTER-ADDR-BY-NAME and follows +switch-master), with short
// timeouts, no retries (MaxRetries -1), one dial attempt per write and no
// dial circuit breaker (see [NewClient]), so every attempt is a single try
// recorded as it went.
//
// To learn which server acknowledged each write it installs a custom dialer
// that wraps every connection to a non-controller address (the Redis
// servers the client resolved) and notes the connection's address whenever
// a reply is read from it. Writes are issued one at a time from one
// goroutine, so the last address read from before SET returns is the one
// that answered it.
type Writer struct {
	opts   WriterOptions
	client *redis.Client
	last   atomic.Pointer[string]
	acked  atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	writes []Write
	latest map[string]Write // the last acknowledged write per server
}

// StartWriter starts writing in the background until Stop or ctx ends.
func StartWriter(ctx context.Context, opts WriterOptions) (*Writer, error) {
	if opts.MasterName == "" || len(opts.Controllers) == 0 {
		return nil, errors.New("testbed: writer needs a master name and controllers")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultWriteInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWriteTimeout
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	w := &Writer{opts: opts, done: make(chan struct{}), latest: map[string]Write{}}
	w.client = NewFailoverClient(opts.MasterName, opts.Controllers, opts.Timeout, opts.Route, w.last.Store)
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
	return w, nil
}

// Key returns the key written by write number seq.
func (w *Writer) Key(seq int64) string {
	return w.opts.KeyPrefix + strconv.FormatInt(seq, 10)
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	for seq := int64(0); ; seq++ {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		next = next.Add(w.opts.Interval)
		w.last.Store(nil)
		start := time.Now()
		if next.Before(start) {
			next = start // no burst to catch up after a slow write
		}
		err := w.client.Set(ctx, w.Key(seq), seq, 0).Err()
		rec := Write{Seq: seq, Start: start, End: time.Now()}
		if err != nil {
			rec.Err = err.Error()
		} else if a := w.last.Load(); a != nil {
			rec.Addr = *a
			w.acked.Add(1)
		} else {
			rec.Addr = "?"
			w.acked.Add(1)
		}
		if ctx.Err() != nil && err != nil {
			return // the write was cut short by Stop, not by a fault
		}
		w.mu.Lock()
		w.writes = append(w.writes, rec)
		if rec.Acked() {
			w.latest[rec.Addr] = rec
		}
		w.mu.Unlock()
	}
}

// Acked returns how many writes have been acknowledged so far.
func (w *Writer) Acked() int64 { return w.acked.Load() }

// LastAckOn returns the latest write acknowledged by addr. It is cheap
// enough to poll.
func (w *Writer) LastAckOn(addr string) (Write, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec, ok := w.latest[addr]
	return rec, ok
}

// FirstAckOn returns the first write acknowledged by addr among writes
// that started at or after from.
func FirstAckOn(writes []Write, addr string, from time.Time) (Write, bool) {
	i, _ := slices.BinarySearchFunc(writes, from, func(w Write, t time.Time) int { return w.Start.Compare(t) })
	for _, rec := range writes[i:] {
		if rec.Acked() && rec.Addr == addr {
			return rec, true
		}
	}
	return Write{}, false
}

// Snapshot returns the writes attempted so far.
func (w *Writer) Snapshot() []Write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Write(nil), w.writes...)
}

// Stop stops writing, closes the client and returns every write attempted.
// It may be called more than once.
func (w *Writer) Stop() []Write {
	w.cancel()
	<-w.done
	_ = w.client.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Write(nil), w.writes...)
}

// LostWrites reads back, from the server behind client (the final master),
// the key of every acknowledged write and returns the sequence numbers of
// those whose key is missing or holds another value: acknowledged writes the
// failover lost.
func LostWrites(ctx context.Context, client *redis.Client, keyPrefix string, writes []Write) ([]int64, error) {
	if keyPrefix == "" {
		keyPrefix = DefaultKeyPrefix
	}
	var acked []int64
	for _, w := range writes {
		if w.Acked() {
			acked = append(acked, w.Seq)
		}
	}
	var lost []int64
	for len(acked) > 0 {
		batch := acked[:min(readBackBatch, len(acked))]
		acked = acked[len(batch):]
		keys := make([]string, len(batch))
		for i, seq := range batch {
			keys[i] = keyPrefix + strconv.FormatInt(seq, 10)
		}
		vals, err := client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("testbed: read back from %s: %w", client.Options().Addr, err)
		}
		for i, v := range vals {
			if s, ok := v.(string); !ok || s != strconv.FormatInt(batch[i], 10) {
				lost = append(lost, batch[i])
			}
		}
	}
	return lost, nil
}
