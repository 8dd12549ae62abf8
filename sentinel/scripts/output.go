package scripts

import (
	"bytes"
	"log/slog"
	"sync"
)

// Bounds on what one run of a script may put in the log.
const (
	// maxOutputBytes is how much of each stream (stdout, stderr) of one
	// run is logged; the rest is read and counted, not logged.
	maxOutputBytes = 16 << 10
	// maxLineBytes cuts longer lines.
	maxLineBytes = 1 << 10
)

// outputLog is an io.Writer that logs a script's output line by line, up to
// maxOutputBytes. It always accepts what it is given, so the script never
// blocks on a full pipe.
type outputLog struct {
	log *slog.Logger

	mu      sync.Mutex
	budget  int    // bytes still to log
	line    []byte // the current line, up to maxLineBytes
	cut     bool   // the current line was longer than maxLineBytes
	dropped int    // bytes not logged for lack of budget
}

func newOutputLog(log *slog.Logger, path, stream string) *outputLog {
	return &outputLog{
		log:    log.With("script", path, "stream", stream),
		budget: maxOutputBytes,
	}
}

// Write logs every complete line of p and keeps the rest for the next call.
func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if o.budget == 0 {
			o.dropped += len(p)
			break
		}
		seg := p[:min(len(p), o.budget)]
		i := bytes.IndexByte(seg, '\n')
		if i < 0 {
			o.add(seg)
			o.budget -= len(seg)
			p = p[len(seg):]
			continue
		}
		o.add(seg[:i])
		o.flush()
		o.budget -= i + 1
		p = p[i+1:]
	}
	return n, nil
}

// Close logs an unfinished last line and how much output was not logged.
func (o *outputLog) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.line) > 0 || o.cut {
		o.flush()
	}
	if o.dropped > 0 {
		o.log.Warn("script output truncated", "logged-bytes", maxOutputBytes, "dropped-bytes", o.dropped)
		o.dropped = 0
	}
}

func (o *outputLog) add(b []byte) {
	room := maxLineBytes - len(o.line)
	if len(b) > room {
		b = b[:room]
		o.cut = true
	}
	o.line = append(o.line, b...)
}

func (o *outputLog) flush() {
	if o.cut {
		o.log.Info("script output", "line", string(o.line), "line-truncated", true)
	} else {
		o.log.Info("script output", "line", string(o.line))
	}
	o.line = o.line[:0]
	o.cut = false
}
