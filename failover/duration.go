package failover

import (
	"math"
	"time"
)

// addDur returns a+b for non-negative durations, saturating at the largest
// Duration instead of wrapping, so absurd configured values never turn a
// limit negative.
func addDur(a, b time.Duration) time.Duration {
	if a > 0 && b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// mulDur returns d×n for non-negative d and n, saturating like addDur.
func mulDur(d time.Duration, n int64) time.Duration {
	if d > 0 && n > 0 && d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return d * time.Duration(n)
}
