// Package resp reads client commands and writes replies in the Redis
// serialization protocol, versions 2 and 3, as a Sentinel-protocol server
// needs them.
//
// The reader accepts both multibulk commands (what every client library sends)
// and inline commands (what a person types into telnet). Every limit is
// enforced before memory is allocated, and buffers grow only as input
// arrives, so hostile input costs at most the configured maxima.
//
// The request path allocates nothing in steady state: commands are parsed
// in place in a per-connection buffer (arguments are valid until the next
// ReadCommand), replies are appended to a reused buffer, and both start
// small (1 KiB and 512 bytes) so that an idle client costs little memory.
// On Linux, TCP and Unix sockets are read and written with raw system
// calls (rawio_linux.go), which removes most of the Go runtime's per-call
// overhead for the one small read and one small write of a request.
package resp
