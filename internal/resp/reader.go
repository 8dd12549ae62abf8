package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// ProtocolError is a malformed request. Redis answers it with
// "-ERR Protocol error: ..." and closes the connection; callers should too.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// IsProtocolError reports whether err is a *ProtocolError.
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// Reader reads commands from a client connection.
type Reader struct {
	br *bufio.Reader
}

// NewReader wraps r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16*1024)}
}

// Buffered reports how many bytes are already read from the connection but
// not yet returned as commands; a server flushes replies only when it is 0.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadCommand returns the next command's arguments. An empty inline line is
// skipped, as redis-server does. It returns io.EOF at a clean end of input and
// a *ProtocolError for malformed input.
func (r *Reader) ReadCommand() ([][]byte, error) {
	for {
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == '*' {
			return r.readMultibulk()
		}
		args, err := r.readInline()
		if err != nil || len(args) > 0 {
			return args, err
		}
	}
}

func (r *Reader) readInline() ([][]byte, error) {
	line, err := r.readLine(MaxInlineLen, "too big inline request")
	if err != nil {
		return nil, err
	}
	return splitInline(line)
}

// splitInline splits an inline command line into arguments, honouring
// double and single quotes the way redis-cli and redis-server do.
func splitInline(line []byte) ([][]byte, error) {
	var args [][]byte
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return args, nil
		}
		var cur []byte
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
						if i+2 < len(line) {
							if v, err := strconv.ParseUint(string(line[i+1:i+3]), 16, 8); err == nil {
								c = byte(v)
								i += 2
								break
							}
						}
						c = 'x'
					default:
						c = line[i]
					}
					cur = append(cur, c)
					i++
					continue
				}
				if c == '"' {
					i++
					break
				}
				cur = append(cur, c)
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
					cur = append(cur, '\'')
					i += 2
					continue
				}
				if c == '\'' {
					i++
					break
				}
				cur = append(cur, c)
				i++
			}
		default:
			for i < len(line) && !isSpace(line[i]) {
				cur = append(cur, line[i])
				i++
			}
		}
		if i < len(line) && !isSpace(line[i]) {
			return nil, &ProtocolError{"unbalanced quotes in request"}
		}
		if cur == nil {
			cur = []byte{}
		}
		args = append(args, cur)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func (r *Reader) readMultibulk() ([][]byte, error) {
	line, err := r.readLine(MaxInlineLen, "too big mbulk count string")
	if err != nil {
		return nil, err
	}
	n, err := parseLen(line[1:])
	if err != nil || n > MaxArgs {
		return nil, &ProtocolError{"invalid multibulk length"}
	}
	if n <= 0 {
		return nil, nil
	}
	args := make([][]byte, 0, min(n, 64))
	total := 0
	for range n {
		hdr, err := r.readLine(MaxInlineLen, "too big bulk count string")
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if len(hdr) == 0 || hdr[0] != '$' {
			got := byte(' ')
			if len(hdr) > 0 {
				got = hdr[0]
			}
			return nil, &ProtocolError{fmt.Sprintf("expected '$', got '%c'", got)}
		}
		size, err := parseLen(hdr[1:])
		if err != nil || size < 0 || size > MaxBulkLen {
			return nil, &ProtocolError{"invalid bulk length"}
		}
		total += size
		if total > maxTotal {
			return nil, &ProtocolError{"request too large"}
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r.br, buf); err != nil {
			return nil, unexpectedEOF(err)
		}
		if buf[size] != '\r' || buf[size+1] != '\n' {
			return nil, &ProtocolError{"bulk string not terminated by CRLF"}
		}
		args = append(args, buf[:size:size])
	}
	return args, nil
}

// readLine reads up to CRLF (or a bare LF, which redis-server tolerates for
// inline commands) and returns the line without its terminator.
func (r *Reader) readLine(limit int, tooBig string) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, &ProtocolError{tooBig}
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) == 0 {
			return nil, err
		}
		return nil, unexpectedEOF(err)
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseLen(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 12 {
		return 0, errors.New("bad length")
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, err
	}
	return n, nil
}
