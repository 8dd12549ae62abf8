package resp

import (
	"io"
	"testing"
)

// Benchmarks of the protocol work of one discovery request:
//
//	go test -run '^$' -bench . -benchmem ./internal/resp/

func benchRead(b *testing.B, in string) {
	r := NewReader(&repeatReader{[]byte(in)})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadMultibulk(b *testing.B) {
	benchRead(b, "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n")
}

func BenchmarkReadInline(b *testing.B) {
	benchRead(b, "SENTINEL get-master-addr-by-name mymaster\r\n")
}

// BenchmarkReadPipelined reads 16 commands that arrive in one piece, as
// from redis-benchmark -P 16.
func BenchmarkReadPipelined(b *testing.B) {
	cmd := "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n"
	in := ""
	for range 16 {
		in += cmd
	}
	r := NewReader(&repeatReader{[]byte(in)})
	b.ReportAllocs()
	b.SetBytes(int64(len(cmd)))
	for b.Loop() {
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteMasterAddr(b *testing.B) {
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		w.Array(2)
		w.Bulk("127.0.0.1")
		w.BulkInt(6379)
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteInstance writes one SENTINEL MASTER-sized map.
func BenchmarkWriteInstance(b *testing.B) {
	kv := make([]string, 0, 80)
	for range 40 {
		kv = append(kv, "config-epoch", "1234567")
	}
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		w.StringMap(kv)
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
