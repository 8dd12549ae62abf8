package resp

import (
	"bufio"
	"io"
	"strconv"
)

// Writer writes replies. Proto selects RESP2 (2, the default) or RESP3 (3);
// the typed methods pick the right encoding for each.
type Writer struct {
	bw    *bufio.Writer
	Proto int
	num   [24]byte
}

// NewWriter wraps w, speaking RESP2 until Proto is changed.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 16*1024), Proto: 2}
}

// Flush sends buffered replies.
func (w *Writer) Flush() error { return w.bw.Flush() }

func (w *Writer) header(prefix byte, n int64) {
	w.bw.WriteByte(prefix)
	w.bw.Write(strconv.AppendInt(w.num[:0], n, 10))
	w.bw.WriteString("\r\n")
}

// Simple writes a simple string (+OK).
func (w *Writer) Simple(s string) {
	w.bw.WriteByte('+')
	w.bw.WriteString(sanitizeLine(s))
	w.bw.WriteString("\r\n")
}

// Error writes an error reply. msg must carry its own code, e.g.
// "ERR No such master with that name" or "NOGOODSLAVE ...".
func (w *Writer) Error(msg string) {
	w.bw.WriteByte('-')
	w.bw.WriteString(sanitizeLine(msg))
	w.bw.WriteString("\r\n")
}

// Int writes an integer.
func (w *Writer) Int(n int64) { w.header(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(s string) {
	w.header('$', int64(len(s)))
	w.bw.WriteString(s)
	w.bw.WriteString("\r\n")
}

// BulkBytes writes a bulk string from bytes.
func (w *Writer) BulkBytes(b []byte) {
	w.header('$', int64(len(b)))
	w.bw.Write(b)
	w.bw.WriteString("\r\n")
}

// Verbatim writes text as a RESP3 verbatim string ("txt"), or a bulk string
// in RESP2, as redis-server does for INFO.
func (w *Writer) Verbatim(s string) {
	if w.Proto < 3 {
		w.Bulk(s)
		return
	}
	w.header('=', int64(len(s)+4))
	w.bw.WriteString("txt:")
	w.bw.WriteString(s)
	w.bw.WriteString("\r\n")
}

// NullBulk writes a null string: $-1 in RESP2, _ in RESP3.
func (w *Writer) NullBulk() {
	if w.Proto >= 3 {
		w.bw.WriteString("_\r\n")
		return
	}
	w.bw.WriteString("$-1\r\n")
}

// NullArray writes a null array: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.Proto >= 3 {
		w.bw.WriteString("_\r\n")
		return
	}
	w.bw.WriteString("*-1\r\n")
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
// requires.
func sanitizeLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] == '\r' || b[j] == '\n' {
					b[j] = ' '
				}
			}
			return string(b)
		}
	}
	return s
}
