package topology

import (
	"bytes"
	"errors"
	"strconv"
)

// This file holds a small RESP decoder used only by tests: it turns the raw
// ROLE replies captured in testdata, and the fuzzer's byte strings, into the
// generic []any a Redis client hands to ParseRole.

// errRESP reports input the test decoder cannot read.
var errRESP = errors.New("bad RESP")

// respOptions chooses how decoded values are represented.
type respOptions struct {
	// bulkAsBytes yields bulk strings as []byte rather than string.
	bulkAsBytes bool
}

// decodeRESP decodes one RESP2/RESP3 value from b and returns it with the
// unread rest of b. It understands simple strings (string), errors (an
// error), integers (int64), bulk strings, arrays/sets/pushes ([]any), maps
// (flattened to []any), nulls (nil), booleans (bool) and doubles (float64).
// Nesting is limited so that fuzz inputs cannot exhaust the stack.
func decodeRESP(b []byte, opt respOptions) (any, []byte, error) {
	return decodeRESPDepth(b, opt, 0)
}

func decodeRESPDepth(b []byte, opt respOptions, depth int) (any, []byte, error) {
	const maxDepth = 16
	if depth > maxDepth {
		return nil, nil, errRESP
	}
	line, rest, ok := bytes.Cut(b, []byte("\r\n"))
	if !ok || len(line) == 0 {
		return nil, nil, errRESP
	}
	kind, body := line[0], string(line[1:])
	switch kind {
	case '+':
		return body, rest, nil
	case '-':
		return errors.New(body), rest, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, nil, errRESP
		}
		return n, rest, nil
	case '_':
		return nil, rest, nil
	case '#':
		switch body {
		case "t":
			return true, rest, nil
		case "f":
			return false, rest, nil
		}
		return nil, nil, errRESP
	case ',':
		f, err := strconv.ParseFloat(body, 64)
		if err != nil {
			return nil, nil, errRESP
		}
		return f, rest, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return nil, nil, errRESP
		}
		if n == -1 {
			return nil, rest, nil
		}
		if n > len(rest)-2 || string(rest[n:n+2]) != "\r\n" {
			return nil, nil, errRESP
		}
		data := rest[:n]
		if opt.bulkAsBytes {
			return bytes.Clone(data), rest[n+2:], nil
		}
		return string(data), rest[n+2:], nil
	case '*', '~', '>', '%':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return nil, nil, errRESP
		}
		if n == -1 {
			return nil, rest, nil
		}
		// Every element takes at least three bytes, so a count beyond that
		// is a lie; refuse it before allocating (and before doubling a
		// map's count, which could overflow).
		if n > len(rest)/3 {
			return nil, nil, errRESP
		}
		if kind == '%' {
			n *= 2
		}
		arr := make([]any, 0, n)
		for range n {
			var v any
			v, rest, err = decodeRESPDepth(rest, opt, depth+1)
			if err != nil {
				return nil, nil, err
			}
			arr = append(arr, v)
		}
		return arr, rest, nil
	default:
		return nil, nil, errRESP
	}
}
