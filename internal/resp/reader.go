package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits on what one command may carry. They mirror redis-server's defaults
// for inline commands and are far smaller than its multibulk limits: nothing
// a Sentinel-protocol client sends comes close.
const (
	MaxInlineLen = 64 * 1024
	MaxArgs      = 1024 * 1024
	MaxBulkLen   = 512 * 1024 * 1024
	// maxTotal bounds the bytes one command may make the server allocate.
	maxTotal = 16 * 1024 * 1024
)

// Buffer sizes of a Reader. A command is parsed in place, so the buffer
// grows to hold the largest command seen; it starts small because a
// Sentinel-protocol client sends commands of a few dozen bytes, and a buffer
// grown past keepBuf is dropped once it is drained so that one large command
// does not pin memory for the life of the connection.
const (
	initialBuf = 1024
	keepBuf    = 64 * 1024
	keepArgs   = 1024
)

// ProtocolError is a malformed request. Redis answers it with
// "-ERR Protocol error: ..." and closes the connection; callers should too.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// IsProtocolError reports whether err is a *ProtocolError.
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// Reader reads commands from a client connection. It parses each command in
// its own buffer and returns arguments that point into it, so reading a
// command allocates nothing once the buffer has grown to the command's size.
type Reader struct {
	rd   io.Reader
	buf  []byte // buf[r:w] is read from rd but not yet returned
	r, w int
	err  error // the error of a Read that also returned data; reported next

	args  [][]byte // returned by ReadCommand, reused by the next call
	spans []span   // the arguments of the command being parsed, relative to r
}

// span is an argument's position in the buffer, relative to the start of
// its command: the buffer may move while the command is incomplete.
type span struct{ off, len int }

// NewReader wraps r. A TCP or Unix socket (*net.TCPConn, *net.UnixConn) is
// read with raw system calls on Linux, which costs less CPU per command; its
// deadlines and Close still apply.
func NewReader(r io.Reader) *Reader {
	if raw := rawReader(r); raw != nil {
		r = raw
	}
	return &Reader{rd: r}
}

// SetSource makes r read from rd from now on, keeping what it has buffered:
// a connection handed from one reader of its socket to another keeps its
// unparsed input. rd is wrapped as NewReader wraps it.
func (r *Reader) SetSource(rd io.Reader) {
	if raw := rawReader(rd); raw != nil {
		rd = raw
	}
	r.rd = rd
}

// Buffered reports how many bytes are already read from the connection but
// not yet returned as commands; a server flushes replies only when it is 0.
func (r *Reader) Buffered() int { return r.w - r.r }

// ReadCommand returns the next command's arguments. An empty inline line is
// skipped, as redis-server does. It returns io.EOF at a clean end of input and
// a *ProtocolError for malformed input.
//
// The arguments and the slice holding them are valid only until the next
// call: copy what must outlive it.
//
// An error from the underlying reader other than io.EOF leaves an
// incomplete command unconsumed: the next call parses it again from its
// start. A non-blocking source may thus return a "would block" error of
// its own whenever it has nothing to read yet.
func (r *Reader) ReadCommand() ([][]byte, error) {
	r.release()
	for {
		if r.r == r.w {
			if err := r.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if r.buf[r.r] == '*' {
			return r.readMultibulk()
		}
		args, err := r.readInline()
		if err != nil || len(args) > 0 {
			return args, err
		}
	}
}

// release drops buffers that one large command grew, once nothing of them
// is still needed.
func (r *Reader) release() {
	if cap(r.args) > keepArgs {
		r.args, r.spans = nil, nil
	}
	if r.r == r.w {
		r.r, r.w = 0, 0
		if len(r.buf) > keepBuf {
			r.buf = nil
		}
	}
}

// fill reads more input into the buffer, keeping the unread bytes
// buf[r:w]. It first makes room by moving them to the front or by growing
// the buffer. It returns an error only if no byte was read.
func (r *Reader) fill() error {
	if r.err != nil {
		err := r.err
		r.err = nil
		return err
	}
	if r.w == len(r.buf) {
		unread := r.w - r.r
		if r.r > 0 && unread <= len(r.buf)/2 {
			copy(r.buf, r.buf[r.r:r.w])
		} else {
			size := max(initialBuf, 2*len(r.buf))
			nb := make([]byte, size)
			copy(nb, r.buf[r.r:r.w])
			r.buf = nb
		}
		r.r, r.w = 0, unread
	}
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			return errors.New("resp: reader returned an invalid count")
		}
		r.w += n
		if n > 0 {
			r.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// line finds the line that starts at offset p of the current command (the
// command starts at r.r) and returns the offset where its content ends and
// the offset after its terminator. The terminator is CRLF, or a bare LF, which
// redis-server tolerates for inline commands. A line longer than limit,
// terminator included, is a protocol error.
func (r *Reader) line(p, limit int, tooBig string) (end, next int, err error) {
	scanned := 0
	for {
		rest := r.buf[r.r+p+scanned : r.w]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			n := scanned + i + 1
			if n > limit {
				return 0, 0, &ProtocolError{tooBig}
			}
			end = p + n - 1
			if end > p && r.buf[r.r+end-1] == '\r' {
				end--
			}
			return end, p + n, nil
		}
		scanned += len(rest)
		if scanned > limit {
			return 0, 0, &ProtocolError{tooBig}
		}
		if err := r.fill(); err != nil {
			return 0, 0, unexpectedEOF(err)
		}
	}
}

func (r *Reader) readInline() ([][]byte, error) {
	end, next, err := r.line(0, MaxInlineLen, "too big inline request")
	if err != nil {
		return nil, err
	}
	line := r.buf[r.r : r.r+end]
	r.r += next
	args, err := splitInline(r.args[:0], line)
	if err != nil {
		return nil, err
	}
	r.args = args
	return args, nil
}

// splitInline splits an inline command line into arguments, honouring
// double and single quotes the way redis-cli and redis-server do. It
// unquotes in place (an argument is never longer than its quoted form), so
// the arguments share line's memory, and appends them to args.
func splitInline(args [][]byte, line []byte) ([][]byte, error) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return args, nil
		}
		start, o := i, i // the argument is written to line[start:o]
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, &ProtocolError{"unbalanced quotes in request"}
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'x':
						c = 'x'
						if i+2 < len(line) {
							hi, ok1 := unhex(line[i+1])
							lo, ok2 := unhex(line[i+2])
							if ok1 && ok2 {
								c = hi<<4 | lo
								i += 2
							}
						}
					default:
						c = line[i]
					}
					line[o] = c
					o++
					i++
					continue
				}
				if c == '"' {
					i++
					break
				}
				line[o] = c
				o++
				i++
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, &ProtocolError{"unbalanced quotes in request"}
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					line[o] = '\''
					o++
					i += 2
					continue
				}
				if c == '\'' {
					i++
					break
				}
				line[o] = c
				o++
				i++
			}
		default:
			for i < len(line) && !isSpace(line[i]) {
				i++
			}
			o = i
		}
		if i < len(line) && !isSpace(line[i]) {
			return nil, &ProtocolError{"unbalanced quotes in request"}
		}
		args = append(args, line[start:o:o])
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// readMultibulk parses "*<n>" followed by n bulk strings. Nothing is
// consumed until the whole command is in the buffer; its arguments are then
// sliced from it.
func (r *Reader) readMultibulk() ([][]byte, error) {
	end, p, err := r.line(0, MaxInlineLen, "too big mbulk count string")
	if err != nil {
		return nil, err
	}
	n, ok := ParseLen(r.buf[r.r+1 : r.r+end])
	if !ok || n > MaxArgs {
		return nil, &ProtocolError{"invalid multibulk length"}
	}
	if n <= 0 {
		r.r += p
		return nil, nil
	}
	spans := r.spans[:0]
	total := 0
	for range n {
		end, next, err := r.line(p, MaxInlineLen, "too big bulk count string")
		if err != nil {
			return nil, err
		}
		hdr := r.buf[r.r+p : r.r+end]
		if len(hdr) == 0 || hdr[0] != '$' {
			got := byte(' ')
			if len(hdr) > 0 {
				got = hdr[0]
			}
			return nil, &ProtocolError{fmt.Sprintf("expected '$', got '%c'", got)}
		}
		size, ok := ParseLen(hdr[1:])
		if !ok || size < 0 || size > MaxBulkLen {
			return nil, &ProtocolError{"invalid bulk length"}
		}
		total += size
		if total > maxTotal {
			return nil, &ProtocolError{"request too large"}
		}
		p = next
		for r.w-r.r-p < size+2 {
			if err := r.fill(); err != nil {
				return nil, unexpectedEOF(err)
			}
		}
		if r.buf[r.r+p+size] != '\r' || r.buf[r.r+p+size+1] != '\n' {
			return nil, &ProtocolError{"bulk string not terminated by CRLF"}
		}
		spans = append(spans, span{p, size})
		p += size + 2
	}
	r.spans = spans
	args := r.args[:0]
	for _, s := range spans {
		start := r.r + s.off
		args = append(args, r.buf[start:start+s.len:start+s.len])
	}
	r.args = args
	r.r += p
	return args, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ParseLen parses a decimal length with an optional sign, as strconv.Atoi
// does, without allocating (at most 12 bytes: a RESP length or count).
func ParseLen(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
