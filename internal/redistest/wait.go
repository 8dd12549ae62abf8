package redistest

import (
	"testing"
	"time"
)

// pollInterval is how often [WaitFor] and the start-up wait re-check their
// condition.
const pollInterval = 25 * time.Millisecond

// WaitFor polls cond every 25ms until it returns true, and fails the test
// with "timed out after <timeout> waiting for <what>" if it has not by the
// deadline. cond is called once immediately, so a condition that already
// holds costs no wait.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("redistest: timed out after %v waiting for %s", timeout, what)
	}
}

// poll calls cond until it returns true (then poll returns true) or until
// timeout has passed (then false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-ticker.C
	}
}
