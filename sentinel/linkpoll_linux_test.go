package sentinel

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// wait returns for a ready socket, a wake or its timeout, whether it
// blocks in epoll_wait (short waits) or parks in Go's network poller (long
// ones and waits without a timeout).
func TestPollerWait(t *testing.T) {
	for _, blockFirst := range []time.Duration{linkBlockFirst, clientBlockFirst} {
		p, err := newPoller(blockFirst)
		if err != nil {
			t.Fatal(err)
		}
		if p.parkRC == nil {
			t.Fatal("the poller could not register with Go's network poller: every wait would block a thread")
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.add(fds[0]); err != nil {
			t.Fatal(err)
		}

		// Timeouts, short and parked: nothing ready.
		for _, timeout := range []time.Duration{2 * time.Millisecond, 30 * time.Millisecond} {
			start := time.Now()
			ready, err := p.wait(timeout, nil)
			if err != nil || len(ready) != 0 {
				t.Fatalf("wait(%v) with nothing ready: %v, %v", timeout, ready, err)
			}
			if el := time.Since(start); el < timeout/2 {
				t.Errorf("wait(%v) returned after %v, long before its timeout", timeout, el)
			}
		}

		// A socket that becomes ready while the loop is parked.
		go func() {
			time.Sleep(3 * blockFirst)
			_, _ = unix.Write(fds[1], []byte("x"))
		}()
		ready, err := p.wait(-1, nil)
		if err != nil || !slices.Equal(ready, []int{fds[0]}) {
			t.Fatalf("wait(-1) for a socket written while parked: %v, %v; want [%d]", ready, err, fds[0])
		}
		var b [8]byte
		_, _ = unix.Read(fds[0], b[:])

		// A wake while parked: no socket ready, and the wait returns.
		go func() {
			time.Sleep(3 * blockFirst)
			p.wake()
		}()
		done := make(chan []int, 1)
		go func() {
			r, _ := p.wait(-1, nil)
			done <- r
		}()
		select {
		case r := <-done:
			if len(r) != 0 {
				t.Errorf("wait(-1) woken: ready %v, want none", r)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("wait(-1) did not return after wake")
		}

		// Ready at once: no blocking at all.
		_, _ = unix.Write(fds[1], []byte("y"))
		if ready, err := p.wait(time.Hour, nil); err != nil || !slices.Equal(ready, []int{fds[0]}) {
			t.Fatalf("wait(1h) with a socket ready: %v, %v", ready, err)
		}
		p.close()
		p.wake() // after close: a no-op
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
	}
}
