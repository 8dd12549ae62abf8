// Package resp reads client commands and writes replies in the Redis
// serialization protocol, versions 2 and 3, as a Sentinel-protocol server
// needs them.
//
// The reader accepts both multibulk commands (what every client library sends)
// and inline commands (what a person types into telnet). Every limit is
// enforced before memory is allocated, so hostile input costs at most the
// configured maxima.
package resp
