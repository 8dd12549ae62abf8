// Package scripts runs operator scripts (notification-script and
// client-reconfig-script) the way redis-sentinel does: a bounded queue of
// jobs, a bounded number of children running at once, a maximum run time
// after which a child and everything it started are SIGKILLed, and retries
// with a doubling delay for scripts that exit with code 1.
//
// The package owns only the execution. Deciding which script to run with
// which arguments, and publishing the -script-error and -script-timeout
// events the runner reports, is the node's job (package sentinel).
// docs/scripts.md is the operator-facing description of the contract.
package scripts
