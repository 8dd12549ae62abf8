package main

import (
	"context"
	"fmt"
	"log/slog"
)

// redisLogger routes go-redis's internal messages (dial failures on a dead
// instance, mostly) into slog at debug level: the node already reports
// unreachable instances as +sdown events, so they are noise at info.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
