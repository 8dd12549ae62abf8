package sentinel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRefused: only a failure that proves nothing listens (refused, reset,
// closed by the other side) stops a PING from counting as pending. A
// timeout or a busy pool is what a stopped (SIGSTOP) or slow instance
// looks like: s_down must then wait the whole down-after from that PING.
func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, dialErr := net.Dial("tcp", addr)
	if dialErr == nil {
		t.Skip("port reused")
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{dialErr, true},
		{io.EOF, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, false},
		{os.ErrDeadlineExceeded, false},
		{redis.ErrPoolTimeout, false},
		{redis.ErrClosed, false},
		{net.ErrClosed, false},
		{errors.New("something else"), false},
	} {
		if got := refused(tc.err); got != tc.want {
			t.Errorf("refused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A real timeout from a listener that never answers.
	quiet, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = quiet.Close() }()
	c, err := net.Dial("tcp", quiet.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil || refused(err) {
		t.Errorf("read timeout %v counted as refused", err)
	}
}
