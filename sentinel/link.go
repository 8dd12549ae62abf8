package sentinel

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/topology"
)

// Monitoring cadence. Sentinel's values (sentinel.c): PING every second or
// every down-after if smaller, INFO every 10 s, every second while the
// master is down or a failover runs.
const (
	pingPeriod     = time.Second
	infoPeriod     = 10 * time.Second
	fastInfoPeriod = time.Second
	// suspectInfoPeriod is the INFO period of replicas while their master
	// is late answering or down: their offsets are the evidence of
	// replica-corroborated detection (corroborate.go).
	suspectInfoPeriod = 250 * time.Millisecond
	// retryDelay is how soon a failed PING is retried: a link that is down
	// is probed faster than the ping period so that a returning instance is
	// noticed within a fraction of a second.
	retryDelay = 250 * time.Millisecond
)

// link is the monitoring connection to one instance. Its goroutine issues
// PING and INFO and reports each outcome to the node; it never touches the
// node's state directly.
type link struct {
	addr      topology.Addr
	group     string
	client    *redis.Client
	infoEvery atomic.Int64  // INFO period in nanoseconds; 0 means infoPeriod
	poke      chan struct{} // ask for an INFO right now
	cancel    context.CancelFunc
}

// linkTimeouts returns the PING period and the per-command timeout for a
// group's down-after.
func linkTimeouts(downAfter time.Duration) (period, timeout time.Duration) {
	// A quarter of down-after (at most Sentinel's second): s_down is
	// measured from the oldest unanswered PING, so frequent PINGs notice a
	// dead instance soon after it stopped answering. The timeout is
	// down-after itself: a reply that comes late but within down-after is
	// a live instance, not a failure.
	period = min(pingPeriod, max(downAfter/4, 100*time.Millisecond))
	timeout = max(downAfter, 200*time.Millisecond)
	return period, timeout
}

// requestInfo asks the link for an immediate INFO without blocking.
func (l *link) requestInfo() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// run is the link's loop. It owns l.client and closes it on return.
func (l *link) run(ctx context.Context, n *Node, downAfter time.Duration) {
	defer l.client.Close()
	period, timeout := linkTimeouts(downAfter)
	var nextPing, lastInfo, nextHello time.Time
	infoFailed, pingFailed := false, false
	for {
		now := time.Now()
		if n.cluster != nil && !now.Before(nextHello) {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := l.client.Publish(cctx, helloChannel, n.helloPayload(l.group)).Err()
			cancel()
			if ctx.Err() != nil {
				return
			}
			nextHello = now.Add(helloPeriod)
			if err != nil {
				nextHello = now.Add(min(retryDelay, period))
			}
		}
		if !now.Before(nextPing) {
			n.notePingSent(l, now)
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := l.client.Ping(cctx).Err()
			cancel()
			if ctx.Err() != nil {
				return
			}
			n.recordPing(l, time.Now(), err)
			if pingAcceptable(err) {
				nextPing = now.Add(period)
				if pingFailed {
					// Back after an outage: read INFO now, a reboot (new
					// run id, maybe an emptied data set) must be seen at
					// once, not at the next 10 s poll.
					lastInfo = time.Time{}
				}
				pingFailed = false
			} else {
				nextPing = time.Now().Add(min(retryDelay, period))
				pingFailed = true
			}
		}
		if nextInfo := l.nextInfo(lastInfo, infoFailed); !time.Now().Before(nextInfo) {
			lastInfo = time.Now()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			text, err := l.client.Info(cctx).Result()
			cancel()
			if ctx.Err() != nil {
				return
			}
			infoFailed = err != nil
			n.recordInfo(l, time.Now(), text, err)
		}
		wait := min(time.Until(nextPing), time.Until(l.nextInfo(lastInfo, infoFailed)))
		if n.cluster != nil {
			wait = min(wait, time.Until(nextHello))
		}
		timer := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-l.poke:
			lastInfo = time.Time{}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// nextInfo is when the next INFO is due: at once if none was sent yet, soon
// after a failure, otherwise one info period (fast or normal) after the last.
func (l *link) nextInfo(last time.Time, failed bool) time.Time {
	switch {
	case last.IsZero():
		return last
	case failed:
		return last.Add(retryDelay)
	case l.infoEvery.Load() > 0:
		return last.Add(time.Duration(l.infoEvery.Load()))
	default:
		return last.Add(infoPeriod)
	}
}

// pingAcceptable reports whether a PING outcome proves the instance alive:
// +PONG, or the -LOADING and -MASTERDOWN errors Sentinel also accepts.
func pingAcceptable(err error) bool {
	if err == nil {
		return true
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN")
}

// isReply reports whether err is a reply from the instance (an error reply)
// rather than a network failure.
func isReply(err error) bool {
	if err == nil {
		return true
	}
	var rerr redis.Error
	return errors.As(err, &rerr)
}
