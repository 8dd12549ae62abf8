//go:build race

package httpapi

// raceEnabled tells tests that measure allocations that the race detector
// is on.
const raceEnabled = true
