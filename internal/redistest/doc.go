// Package redistest runs real redis-server processes for integration tests.
//
// It owns everything a test needs to put real Redis instances and real
// sockets under vigil: free loopback ports ([FreePort], [Ports]), single
// servers ([Start], [Server]) that can be killed, stopped, paused, resumed and
// restarted on the same port and data directory, master/replica groups
// ([StartGroup]), a polling helper ([WaitFor]) and a small TCP proxy
// ([NewProxy]) that cuts, heals and delays connections to simulate network
// partitions.
//
// Nothing here is a mock: every server is a redis-server child process bound
// to 127.0.0.1, configured from a redis.conf written into its own temporary
// directory (so CONFIG REWRITE works and a restart sees what was rewritten),
// and killed and reaped when the test ends. The binary must be on PATH; `make
// deps` (run by `make test`) installs it. Tests that need it should call
// [Start] directly and let it fail with a clear message when it is missing;
// [Available] lets other code check first.
//
// The helpers take a testing.TB and report failures with t.Fatalf, so they
// must be called from the goroutine running the test. Methods that take no
// testing.TB (Kill, Stop, Pause, Resume) never fail the test and are safe
// from any goroutine.
//
// Only Linux is supported in earnest: on Linux each child gets
// PR_SET_PDEATHSIG so that a test binary that dies abruptly (a timeout panic,
// SIGKILL) does not leave redis-server processes behind.
package redistest
