package resp

import (
	"io"
	"strconv"
)

// Buffer sizes of a Writer. Replies are appended to a buffer that starts
// small and grows with the reply; a reply larger than streamAt is written
// out in pieces as it is produced, and a buffer grown past keepBuf is
// dropped after Flush, so an idle client costs little memory whatever it
// asked before.
const (
	initialOut = 512
	streamAt   = 32 * 1024
)

// Writer writes replies. Proto selects RESP2 (2, the default) or RESP3 (3);
// the typed methods pick the right encoding for each.
//
// Replies are buffered until Flush. A write error is kept: later replies
// are dropped and Flush returns it.
type Writer struct {
	wr    io.Writer
	buf   []byte
	err   error
	Proto int
}

// NewWriter wraps w, speaking RESP2 until Proto is changed. A TCP or Unix
// socket is written with raw system calls on Linux, as NewReader reads it.
func NewWriter(w io.Writer) *Writer {
	if raw := rawWriter(w); raw != nil {
		w = raw
	}
	return &Writer{wr: w, Proto: 2}
}

// SetOutput makes w write to wr from now on; replies already buffered go
// there at the next Flush. wr is wrapped as NewWriter wraps it.
func (w *Writer) SetOutput(wr io.Writer) {
	if raw := rawWriter(wr); raw != nil {
		wr = raw
	}
	w.wr = wr
}

// Flush sends buffered replies.
func (w *Writer) Flush() error {
	w.write()
	if cap(w.buf) > keepBuf {
		w.buf = nil
	}
	return w.err
}

// write sends the buffer to the underlying writer.
func (w *Writer) write() {
	if len(w.buf) == 0 {
		return
	}
	if w.err == nil {
		_, w.err = w.wr.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// ensure returns the buffer to append to, allocating it with room for at
// least n bytes if the writer has none.
func (w *Writer) ensure(n int) []byte {
	if w.buf == nil {
		w.buf = make([]byte, 0, max(initialOut, n))
	}
	return w.buf
}

// stream writes out a reply that has grown large before it is complete.
func (w *Writer) stream() {
	if len(w.buf) >= streamAt {
		w.write()
	}
}

func (w *Writer) header(prefix byte, n int64) {
	b := append(w.ensure(24), prefix)
	b = strconv.AppendInt(b, n, 10)
	w.buf = append(b, '\r', '\n')
}

func (w *Writer) line(prefix byte, s string) {
	b := append(w.ensure(len(s)+3), prefix)
	start := len(b)
	b = append(b, s...)
	sanitizeLine(b[start:])
	w.buf = append(b, '\r', '\n')
	w.stream()
}

// Simple writes a simple string (+OK).
func (w *Writer) Simple(s string) { w.line('+', s) }

// Error writes an error reply. msg must carry its own code, e.g.
// "ERR No such master with that name" or "NOGOODSLAVE ...".
func (w *Writer) Error(msg string) { w.line('-', msg) }

// Int writes an integer.
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(s string) {
	w.header('$', int64(len(s)))
	w.buf = append(append(w.buf, s...), '\r', '\n')
	w.stream()
}

// BulkBytes writes a bulk string from bytes.
func (w *Writer) BulkBytes(b []byte) {
	w.header('$', int64(len(b)))
	w.buf = append(append(w.buf, b...), '\r', '\n')
	w.stream()
}

// BulkInt writes an integer as a bulk string, the way Sentinel sends ports
// and counters inside its replies, without formatting it into a string
// first.
func (w *Writer) BulkInt(n int64) {
	var num [20]byte
	digits := strconv.AppendInt(num[:0], n, 10)
	w.header('$', int64(len(digits)))
	w.buf = append(append(w.buf, digits...), '\r', '\n')
}

// Verbatim writes text as a RESP3 verbatim string ("txt"), or a bulk string
// in RESP2, as redis-server does for INFO.
func (w *Writer) Verbatim(s string) {
	if w.Proto < 3 {
		w.Bulk(s)
		return
	}
	w.header('=', int64(len(s)+4))
	w.buf = append(append(append(w.buf, "txt:"...), s...), '\r', '\n')
	w.stream()
}

// NullBulk writes a null string: $-1 in RESP2, _ in RESP3.
func (w *Writer) NullBulk() {
	if w.Proto >= 3 {
		w.buf = append(w.ensure(3), "_\r\n"...)
		return
	}
	w.buf = append(w.ensure(5), "$-1\r\n"...)
}

// NullArray writes a null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.Proto >= 3 {
		w.buf = append(w.ensure(3), "_\r\n"...)
		return
	}
	w.buf = append(w.ensure(5), "*-1\r\n"...)
}

// Array starts an array of n elements.
func (w *Writer) Array(n int) { w.header('*', int64(n)) }

// Map starts a map of n key/value pairs: %n in RESP3, a flat array of 2n
// elements in RESP2.
func (w *Writer) Map(n int) {
	if w.Proto >= 3 {
		w.header('%', int64(n))
		return
	}
	w.header('*', int64(2*n))
}

// Push starts an out-of-band push message of n elements: >n in RESP3, an
// array in RESP2 (how Pub/Sub messages have always been sent).
func (w *Writer) Push(n int) {
	if w.Proto >= 3 {
		w.header('>', int64(n))
		return
	}
	w.header('*', int64(n))
}

// Set starts a set of n elements: ~n in RESP3, an array in RESP2.
func (w *Writer) Set(n int) {
	if w.Proto >= 3 {
		w.header('~', int64(n))
		return
	}
	w.header('*', int64(n))
}

// BulkStrings writes an array of bulk strings.
func (w *Writer) BulkStrings(ss []string) {
	w.Array(len(ss))
	for _, s := range ss {
		w.Bulk(s)
	}
}

// StringMap writes ordered field/value pairs as a map whose values are all
// bulk strings: the shape of every Sentinel instance reply.
func (w *Writer) StringMap(kv []string) {
	w.Map(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		w.Bulk(kv[i])
		w.Bulk(kv[i+1])
	}
}

// sanitizeLine keeps a simple string or error on one line, as the protocol
// requires, by replacing CR and LF with spaces.
func sanitizeLine(b []byte) {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
}
