package resp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// TestRawSocket serves commands over a real socket through the raw system
// call path: pipelined commands, a reply larger than the socket buffers
// (so that writing must wait for the client to read), and the end of input.
func TestRawSocket(t *testing.T) {
	s, c := tcpPair(t)
	r, w := NewReader(s), NewWriter(s)
	if _, ok := r.rd.(*rawIO); !ok {
		t.Fatalf("reader of a TCP connection uses %T", r.rd)
	}
	if _, ok := w.wr.(*rawIO); !ok {
		t.Fatalf("writer of a TCP connection uses %T", w.wr)
	}
	big := bytes.Repeat([]byte("x"), 8<<20)
	got := make(chan []byte)
	go func() {
		_, _ = c.Write([]byte("*1\r\n$4\r\nPING\r\nBIG\r\n"))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	for _, want := range []string{"PING", "BIG"} {
		args, err := r.ReadCommand()
		if err != nil || len(args) != 1 || string(args[0]) != want {
			t.Fatalf("got %q, %v; want %s", args, err, want)
		}
		if want == "PING" {
			w.Simple("PONG")
		} else {
			w.BulkBytes(big)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	want := append([]byte("+PONG\r\n$8388608\r\n"), big...)
	want = append(want, "\r\n"...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("client read %d bytes, want %d", len(b), len(want))
	}
	_ = c.Close()
	if _, err := r.ReadCommand(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the client left: %v, want EOF", err)
	}
}

// TestRawSocketCloseAndDeadline checks that a blocked read still ends when
// the connection is closed or its deadline passes.
func TestRawSocketCloseAndDeadline(t *testing.T) {
	s, _ := tcpPair(t)
	r := NewReader(s)
	_ = s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := r.ReadCommand(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	_ = s.SetReadDeadline(time.Time{})
	done := make(chan error)
	go func() {
		_, err := r.ReadCommand()
		done <- err
	}()
	_ = s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadCommand still blocked 10s after Close")
	}
	w := NewWriter(s)
	w.Simple("OK")
	if err := w.Flush(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writing to a closed connection: %v", err)
	}
}
