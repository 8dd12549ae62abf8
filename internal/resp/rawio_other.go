//go:build !linux

package resp

import "io"

// Raw socket I/O is Linux-only (see rawio_linux.go); elsewhere connections
// keep their own Read and Write.

func rawReader(any) io.Reader { return nil }

func rawWriter(any) io.Writer { return nil }
