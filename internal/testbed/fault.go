package testbed

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Fault is a way to make a Redis group fail over.
type Fault string

// The faults.
const (
	// FaultKill9 kills the master with SIGKILL (a crash).
	FaultKill9 Fault = "kill9"
	// FaultSigstop freezes the master with SIGSTOP (a hung process or
	// host); resume it with SIGCONT through [RedisServer.Resume].
	FaultSigstop Fault = "sigstop"
	// FaultManual asks one controller for SENTINEL FAILOVER; the master
	// stays healthy.
	FaultManual Fault = "manual"
)

// AllFaults lists every fault.
func AllFaults() []Fault { return []Fault{FaultKill9, FaultSigstop, FaultManual} }

// ParseFault accepts "kill9", "sigstop" or "manual".
func ParseFault(s string) (Fault, error) {
	switch f := Fault(s); f {
	case FaultKill9, FaultSigstop, FaultManual:
		return f, nil
	}
	return "", fmt.Errorf("testbed: unknown fault %q (want kill9, sigstop or manual)", s)
}

// Inject applies f to g's master, through via for a manual failover of the
// master called name, and returns the moment it was applied: just before
// the signal is sent or the command written.
func Inject(ctx context.Context, f Fault, g *Group, via *Controller, name string) (time.Time, error) {
	at := time.Now()
	switch f {
	case FaultKill9:
		g.Master.Kill()
		return at, nil
	case FaultSigstop:
		return at, g.Master.Pause()
	case FaultManual:
		if via == nil {
			return at, errors.New("testbed: a manual failover needs a controller")
		}
		return at, via.Failover(ctx, name)
	}
	return at, fmt.Errorf("testbed: unknown fault %q", f)
}
