package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// dropLogEvery is how often one kind of drop is logged at most.
const dropLogEvery = 10 * time.Second

// dropLog logs refused input at most once per interval for each message
// text, with the number of similar lines it held back, so
// that a peer sending garbage cannot flood the log.
type dropLog struct {
	out   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	seen map[string]*dropCount // keyed by message text: a small fixed set
}

type dropCount struct {
	last       time.Time
	suppressed int
}

func newDropLog(out *slog.Logger, every time.Duration) *dropLog {
	return &dropLog{out: out, every: every, seen: map[string]*dropCount{}}
}

func (d *dropLog) log(level slog.Level, msg string, err error, args ...any) {
	now := time.Now()
	d.mu.Lock()
	c, ok := d.seen[msg]
	if !ok {
		c = &dropCount{}
		d.seen[msg] = c
	}
	if ok && now.Sub(c.last) < d.every {
		c.suppressed++
		d.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.last, c.suppressed = now, 0
	d.mu.Unlock()
	if err != nil {
		args = append(args, "err", err)
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	d.out.Log(context.Background(), level, msg, args...)
}

// memberlistLogWriter turns memberlist's "[LEVEL] memberlist: text" lines
// into slog records. Memberlist reports a peer's failure (a refused
// connection, a failed push/pull) as [ERR]; that is news about the peer, not
// an error of this node, so it is logged at Warn.
type memberlistLogWriter struct {
	out *slog.Logger
}

func (w memberlistLogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[ERR]", slog.LevelWarn},
		{"[ERROR]", slog.LevelWarn},
	} {
		if rest, ok := bytes.CutPrefix(line, []byte(l.prefix)); ok {
			line, level = bytes.TrimSpace(rest), l.level
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.out.Log(context.Background(), level, string(line), "lib", "memberlist")
	return len(p), nil
}
