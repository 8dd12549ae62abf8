package sentinel

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/vigil-ha/vigil/internal/resp"
)

// The monitoring links parse RESP2 replies in place, from whatever bytes
// have arrived: a reply is a view into the connection's buffer, valid
// until the next read, so the steady traffic of a link (+PONG, :1 for a
// PUBLISH, hello messages) allocates nothing.

// Limits on what an instance may send back, so that a misbehaving server
// costs bounded memory.
const (
	maxReplyLine  = 64 << 10 // a status, error or header line
	maxReplyBulk  = 64 << 20 // an INFO reply is a few KiB
	maxReplyArray = 1024
	maxReplyDepth = 4
)

// replyError is an error reply of the instance (-ERR ..., -LOADING ...):
// proof that it is alive and answering, unlike a network error.
type replyError string

func (e replyError) Error() string { return string(e) }

// errProtocol is a reply that is not valid RESP2.
var errProtocol = errors.New("protocol error in reply")

// errIncomplete means more bytes are needed for a whole reply.
var errIncomplete = errors.New("incomplete reply")

// replyHead is a reply, or one element of an array reply: its type byte
// ('+', '-', ':', '$', '*'; 0 for a nil bulk or array) and, for strings
// and errors, its body.
type replyHead struct {
	kind byte
	body []byte
}

// reply is a parsed reply. An array keeps only its first elements (the
// three of a Pub/Sub message); deeper levels are checked and skipped.
type reply struct {
	replyHead
	elems  [3]replyHead
	nelems int
}

// str returns the body of a simple or bulk string reply.
func (r *reply) str() (string, bool) {
	if r.kind != '+' && r.kind != '$' {
		return "", false
	}
	return string(r.body), true
}

// err returns the reply as an error: a replyError for an error reply,
// nil otherwise.
func (r *reply) err() error {
	if r.kind == '-' {
		return replyError(r.body)
	}
	return nil
}

// isMessage reports whether r is a Pub/Sub message (["message", channel,
// payload]) and returns its payload.
func (r *reply) isMessage() ([]byte, bool) {
	if r.kind != '*' || r.nelems != 3 || r.elems[2].kind != '$' || string(r.elems[0].body) != "message" {
		return nil, false
	}
	return r.elems[2].body, true
}

// parseReply parses the reply at the start of b. It returns the number of
// bytes it took, or errIncomplete with need, the length b must reach
// before another attempt can succeed, or errProtocol.
func parseReply(b []byte, r *reply) (n, need int, err error) {
	*r = reply{}
	r.replyHead, n, need, err = parseValue(b, 0, r)
	return n, need, err
}

// parseValue parses one value; top, when not nil, collects the first
// elements of an array.
func parseValue(b []byte, depth int, top *reply) (h replyHead, n, need int, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > maxReplyLine {
			return h, 0, 0, errProtocol
		}
		return h, 0, len(b) + 1, errIncomplete
	}
	if i < 2 || b[i-1] != '\r' {
		return h, 0, 0, errProtocol
	}
	line, n := b[1:i-1], i+1
	h.kind = b[0]
	switch b[0] {
	case '+', '-':
		h.body = line
		return h, n, 0, nil
	case ':':
		if !validInt(line) {
			return h, 0, 0, errProtocol
		}
		h.body = line
		return h, n, 0, nil
	case '$':
		size, ok := parseLen(line, maxReplyBulk)
		switch {
		case !ok:
			return h, 0, 0, errProtocol
		case size < 0:
			h.kind = 0
			return h, n, 0, nil
		case len(b) < n+size+2:
			return h, 0, n + size + 2, errIncomplete
		case b[n+size] != '\r' || b[n+size+1] != '\n':
			return h, 0, 0, errProtocol
		}
		h.body = b[n : n+size]
		return h, n + size + 2, 0, nil
	case '*':
		count, ok := parseLen(line, maxReplyArray)
		switch {
		case !ok || depth >= maxReplyDepth:
			return h, 0, 0, errProtocol
		case count < 0:
			h.kind = 0
			return h, n, 0, nil
		}
		for k := range count {
			e, used, subNeed, err := parseValue(b[n:], depth+1, nil)
			if err != nil {
				if subNeed > 0 {
					subNeed += n
				}
				return h, 0, subNeed, err
			}
			if top != nil && k < len(top.elems) {
				top.elems[k] = e
			}
			n += used
		}
		if top != nil {
			top.nelems = count
		}
		return h, n, 0, nil
	}
	return h, 0, 0, errProtocol
}

// validInt reports whether b is a decimal integer that fits 64 bits
// (loosely: 1 to 18 digits and a sign).
func validInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return len(b) == 19 && !bytes.ContainsFunc(b, notDigit) && string(b) <= "9223372036854775807"
	}
	return !bytes.ContainsFunc(b, notDigit)
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// parseLen parses a bulk or array length: -1 (nil) up to limit.
func parseLen(line []byte, limit int) (int, bool) {
	v, ok := resp.ParseLen(line)
	return v, ok && v >= -1 && v <= limit && (len(line) == 0 || line[0] != '+')
}

// appendCommand appends a command in RESP2 to b.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}
