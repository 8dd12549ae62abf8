package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxRESPLen bounds bulk strings and arrays read by the event watcher, and
// maxRESPDepth the nesting of arrays.
const (
	maxRESPLen   = 1 << 20
	maxRESPDepth = 8
)

// Event is one Pub/Sub message a controller published, timestamped when the
// watcher read it.
type Event struct {
	// Controller is the address of the controller that published it.
	Controller string `json:"controller"`
	// Type is the channel: "+sdown", "+odown", "+switch-master"...
	Type string `json:"type"`
	// Payload is the message, in redis-sentinel's formats (for example
	// "master mymaster 127.0.0.1 6379" or "mymaster 127.0.0.1 6379
	// 127.0.0.1 6380").
	Payload string `json:"payload"`
	// At is when the watcher received it.
	At time.Time `json:"at"`
}

// EventWatcher subscribes to every channel (PSUBSCRIBE *) of each
// controller and records every message with its arrival time.
type EventWatcher struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	events []Event
	source string
}

// WatchEvents subscribes to every controller and returns once each has
// confirmed the subscription. Close it to stop.
func WatchEvents(ctx context.Context, controllers []string) (*EventWatcher, error) {
	return WatchEventsFrom(ctx, controllers, "")
}

// WatchEventsFrom is [WatchEvents] dialling from source ("" for the
// kernel's choice; see [Partition]).
func WatchEventsFrom(ctx context.Context, controllers []string, source string) (*EventWatcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &EventWatcher{cancel: cancel, conns: map[net.Conn]struct{}{}, source: source}
	subscribed := make(chan error, len(controllers))
	for _, addr := range controllers {
		w.wg.Go(func() { w.watch(ctx, addr, subscribed) })
	}
	var errs []error
	for range controllers {
		if err := <-subscribed; err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// watch keeps a subscription to addr until ctx ends, reconnecting after
// errors. The first subscription's outcome goes to subscribed.
func (w *EventWatcher) watch(ctx context.Context, addr string, subscribed chan<- error) {
	first := true
	for ctx.Err() == nil {
		err := w.subscribeOnce(ctx, addr, func() {
			if first {
				first = false
				subscribed <- nil
			}
		})
		if first {
			first = false
			subscribed <- fmt.Errorf("testbed: subscribe to %s: %w", addr, err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// subscribeOnce runs one connection: PSUBSCRIBE *, then read messages until
// an error. ready is called once the subscription is confirmed.
func (w *EventWatcher) subscribeOnce(ctx context.Context, addr string, ready func()) error {
	d := net.Dialer{Timeout: time.Second}
	if w.source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(w.source)}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.conns[conn] = struct{}{}
	w.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer func() {
		stop()
		_ = conn.Close()
		w.mu.Lock()
		delete(w.conns, conn)
		w.mu.Unlock()
	}()
	if _, err := conn.Write([]byte("*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n")); err != nil {
		return err
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	reply, err := readRESP(br)
	if err != nil {
		return err
	}
	if parts, ok := reply.([]any); !ok || len(parts) != 3 || parts[0] != "psubscribe" {
		return fmt.Errorf("unexpected PSUBSCRIBE reply %v", reply)
	}
	_ = conn.SetReadDeadline(time.Time{})
	ready()
	for {
		reply, err := readRESP(br)
		if err != nil {
			return err
		}
		at := time.Now()
		parts, ok := reply.([]any)
		if !ok || len(parts) != 4 || parts[0] != "pmessage" {
			continue
		}
		typ, _ := parts[2].(string)
		payload, _ := parts[3].(string)
		w.mu.Lock()
		w.events = append(w.events, Event{Controller: addr, Type: typ, Payload: payload, At: at})
		w.mu.Unlock()
	}
}

// Events returns every event received so far, in arrival order.
func (w *EventWatcher) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.events...)
}

// First returns the earliest event of type typ whose payload starts with
// payloadPrefix, received at or after from.
func (w *EventWatcher) First(typ, payloadPrefix string, from time.Time) (Event, bool) {
	return FirstEvent(w.Events(), typ, payloadPrefix, from)
}

// FirstEvent returns the earliest of events (in arrival order) of type typ
// whose payload starts with payloadPrefix, received at or after from.
func FirstEvent(events []Event, typ, payloadPrefix string, from time.Time) (Event, bool) {
	for _, ev := range events {
		if ev.Type == typ && strings.HasPrefix(ev.Payload, payloadPrefix) && !ev.At.Before(from) {
			return ev, true
		}
	}
	return Event{}, false
}

// Close unsubscribes and waits for the watcher's goroutines.
func (w *EventWatcher) Close() {
	w.cancel()
	w.wg.Wait()
}

// readRESP reads one RESP2/RESP3 value: strings (simple, bulk, verbatim)
// as string, integers as int64, errors as error values, arrays, sets and
// pushes as []any, nulls as nil. Maps are returned as flat []any.
func readRESP(br *bufio.Reader) (any, error) {
	return readRESPDepth(br, 0)
}

func readRESPDepth(br *bufio.Reader, depth int) (any, error) {
	if depth > maxRESPDepth {
		return nil, errors.New("RESP nested too deeply")
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed RESP line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return errors.New(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxRESPLen {
			return nil, fmt.Errorf("bad bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*', '>', '~', '%':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxRESPLen {
			return nil, fmt.Errorf("bad aggregate length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		if kind == '%' {
			n *= 2
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readRESPDepth(br, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown RESP type %q", kind)
}
