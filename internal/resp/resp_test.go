package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, in string) ([][]string, error) {
	t.Helper()
	return readAllFrom(strings.NewReader(in))
}

// chunkings deliver the same input whole, a byte at a time, and with the
// last data and io.EOF in one Read: the commands read must not depend on
// how the connection splits them.
var chunkings = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"bytewise", iotest.OneByteReader},
	{"data+EOF", iotest.DataErrReader},
}

func readAllFrom(in io.Reader) ([][]string, error) {
	r := NewReader(in)
	var out [][]string
	for {
		args, err := r.ReadCommand()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		var ss []string
		for _, a := range args {
			ss = append(ss, string(a))
		}
		out = append(out, ss)
	}
}

func TestReadCommand(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // commands joined by "|", args by " "
		wantErr string
	}{
		{"multibulk", "*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n", "PING hi", ""},
		{"two commands", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nROLE\r\n", "PING|ROLE", ""},
		{"empty bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", "ECHO ", ""},
		{"binary bulk", "*1\r\n$3\r\na\r\n\r\n", "a\r\n", ""},
		{"zero multibulk skipped", "*0\r\n*1\r\n$4\r\nPING\r\n", "|PING", ""},
		{"inline", "SENTINEL masters\r\n", "SENTINEL masters", ""},
		{"inline LF", "PING\n", "PING", ""},
		{"inline blank lines skipped", "\r\n\r\nPING\r\n", "PING", ""},
		{"inline quotes", `SET "a b" 'c d' "x\x41\n"` + "\r\n", "SET a b c d xA\n", ""},
		{"inline unbalanced", "SET \"a\r\n", "", "unbalanced quotes"},
		{"inline quote glued", "SET \"a\"b\r\n", "", "unbalanced quotes"},
		{"bad bulk prefix", "*2\r\n$3\r\nfoo\r\n:1\r\n", "", "expected '$', got ':'"},
		{"empty bulk header", "*1\r\n\r\n", "", "expected '$'"},
		{"bad mbulk len", "*x\r\n", "", "invalid multibulk length"},
		{"huge mbulk len", "*99999999999\r\n", "", "invalid multibulk length"},
		{"negative bulk", "*1\r\n$-5\r\n", "", "invalid bulk length"},
		{"huge bulk", "*1\r\n$999999999\r\n", "", "invalid bulk length"},
		{"bulk not terminated", "*1\r\n$2\r\nabcd\r\n", "", "not terminated"},
		{"truncated", "*2\r\n$4\r\nPING\r\n", "", "unexpected EOF"},
		{"too many bytes", "*3\r\n$10000000\r\n", "", ""},
		{"request too large", "*1\r\n$16777217\r\n", "", "request too large"},
		{"plus sign length", "*+1\r\n$+4\r\nPING\r\n", "PING", ""},
		{"bad bulk len", "*1\r\n$4x\r\nPING\r\n", "", "invalid bulk length"},
		{"inline too big", strings.Repeat("a", MaxInlineLen+1) + "\r\n", "", "too big inline request"},
		{"inline no terminator", "PING", "", "unexpected EOF"},
		{"inline empty quotes", `ECHO "" ''` + "\n", "ECHO  ", ""},
		{"inline escapes", `ECHO "\t\r\q\x4" 'it\'s'` + "\n", "ECHO \t\rqx4 it's", ""},
		{"pipelined mixed", "PING\r\n*1\r\n$4\r\nROLE\r\nINFO x\n", "PING|ROLE|INFO x", ""},
	}
	for _, tc := range tests {
		for _, ch := range chunkings {
			t.Run(tc.name+"/"+ch.name, func(t *testing.T) {
				cmds, err := readAllFrom(ch.wrap(strings.NewReader(tc.in)))
				var parts []string
				for _, c := range cmds {
					parts = append(parts, strings.Join(c, " "))
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
					}
					return
				}
				if tc.want == "" {
					return // only checking that it does not panic
				}
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got := strings.Join(parts, "|"); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func TestProtocolErrorType(t *testing.T) {
	_, err := readAll(t, "*1\r\n:1\r\n")
	if !IsProtocolError(err) {
		t.Fatalf("want protocol error, got %v", err)
	}
	_, err = readAll(t, "*1\r\n$4\r\nPI")
	if IsProtocolError(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("want unexpected EOF, got %v", err)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Simple("OK")
	w.Error("ERR bad\r\nthing")
	w.Int(-3)
	w.Bulk("hi")
	w.NullBulk()
	w.NullArray()
	w.StringMap([]string{"a", "1"})
	w.Push(1)
	w.Verbatim("x")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "+OK\r\n-ERR bad  thing\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$1\r\nx\r\n"
	if b.String() != want {
		t.Fatalf("RESP2 got %q want %q", b.String(), want)
	}
	b.Reset()
	w.Proto = 3
	w.NullBulk()
	w.NullArray()
	w.StringMap([]string{"a", "1"})
	w.Push(1)
	w.Verbatim("x")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want = "_\r\n_\r\n%1\r\n$1\r\na\r\n$1\r\n1\r\n>1\r\n=5\r\ntxt:x\r\n"
	if b.String() != want {
		t.Fatalf("RESP3 got %q want %q", b.String(), want)
	}
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n",
		"SENTINEL get-master-addr-by-name mymaster\r\n",
		`SET "a\x41" 'b'` + "\n",
		"*1\r\n$-1\r\n",
		"*-1\r\n",
		"$4\r\nPING\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, errWhole := readAllFrom(bytes.NewReader(data))
		bytewise, errBytewise := readAllFrom(iotest.OneByteReader(bytes.NewReader(data)))
		if fmt.Sprint(whole, errWhole) != fmt.Sprint(bytewise, errBytewise) {
			t.Fatalf("whole input gives %q, %v; byte by byte %q, %v", whole, errWhole, bytewise, errBytewise)
		}
		r := NewReader(bytes.NewReader(data))
		for range 100 {
			args, err := r.ReadCommand()
			if err != nil {
				return
			}
			for _, a := range args {
				if len(a) > len(data) {
					t.Fatalf("argument longer than input")
				}
			}
		}
	})
}

// TestReadCommandLarge reads a command far larger than the initial buffer,
// arriving in pieces, and checks that the grown buffer is let go once the
// connection goes back to small commands.
func TestReadCommandLarge(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	var in bytes.Buffer
	in.WriteString("*2003\r\n$3\r\nSET\r\n")
	fmt.Fprintf(&in, "$%d\r\n%s\r\n", len(big), big)
	for i := range 2001 {
		fmt.Fprintf(&in, "$%d\r\n%d\r\n", len(strconv.Itoa(i)), i)
	}
	in.WriteString("*1\r\n$4\r\nPING\r\n")
	r := NewReader(iotest.HalfReader(&in))
	args, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 2003 || string(args[0]) != "SET" || !bytes.Equal(args[1], big) || string(args[2002]) != "2000" {
		t.Fatalf("got %d args", len(args))
	}
	args, err = r.ReadCommand()
	if err != nil || len(args) != 1 || string(args[0]) != "PING" {
		t.Fatalf("after the large command: %q, %v", args, err)
	}
	// The buffers are let go before the reader waits for more input.
	if _, err := r.ReadCommand(); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
	if len(r.buf) > keepBuf || cap(r.args) > keepArgs {
		t.Fatalf("buffers kept after a large command: %d bytes, %d args", len(r.buf), cap(r.args))
	}
}

// TestReadCommandPipelined reads commands that arrive in one piece: Buffered
// says there is more until the last one is returned.
func TestReadCommandPipelined(t *testing.T) {
	r := NewReader(strings.NewReader("*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n"))
	for i, wantBuffered := range []bool{true, true, false} {
		if _, err := r.ReadCommand(); err != nil {
			t.Fatal(err)
		}
		if got := r.Buffered() > 0; got != wantBuffered {
			t.Fatalf("command %d: Buffered() = %d", i, r.Buffered())
		}
	}
}

// repeatReader returns its data again and again, one copy per Read.
type repeatReader struct{ data []byte }

func (r *repeatReader) Read(p []byte) (int, error) { return copy(p, r.data), nil }

// TestNoAllocations guards the request path: once warmed up, reading a
// command and writing a reply allocate nothing.
func TestNoAllocations(t *testing.T) {
	for _, in := range []string{
		"*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n",
		"SENTINEL get-master-addr-by-name \"mymaster\"\r\n",
	} {
		r := NewReader(&repeatReader{[]byte(in)})
		w := NewWriter(io.Discard)
		allocs := testing.AllocsPerRun(1000, func() {
			args, err := r.ReadCommand()
			if err != nil || len(args) != 3 {
				t.Fatalf("%q, %v", args, err)
			}
			w.Array(2)
			w.Bulk("127.0.0.1")
			w.BulkInt(6379)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%q: %.1f allocations per command", in, allocs)
		}
	}
}

// chunkWriter records each Write separately.
type chunkWriter struct {
	chunks [][]byte
	err    error
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.chunks = append(c.chunks, bytes.Clone(p))
	return len(p), nil
}

func TestWriterLargeReply(t *testing.T) {
	var cw chunkWriter
	w := NewWriter(&cw)
	w.Array(100)
	var want bytes.Buffer
	want.WriteString("*100\r\n")
	for i := range 100 {
		s := strings.Repeat(strconv.Itoa(i%10), 1000)
		w.Bulk(s)
		fmt.Fprintf(&want, "$1000\r\n%s\r\n", s)
	}
	if len(cw.chunks) == 0 {
		t.Fatal("a 100 KB reply was held whole until Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(cw.chunks, nil); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("reply differs: %d bytes, want %d", len(got), want.Len())
	}
	if cap(w.buf) > keepBuf {
		t.Fatalf("writer keeps %d bytes after Flush", cap(w.buf))
	}
	w.BulkInt(-42)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := string(cw.chunks[len(cw.chunks)-1]); got != "$3\r\n-42\r\n" {
		t.Fatalf("BulkInt wrote %q", got)
	}
}

func TestWriterKeepsError(t *testing.T) {
	boom := errors.New("boom")
	cw := chunkWriter{err: boom}
	w := NewWriter(&cw)
	w.Simple("OK")
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want boom", err)
	}
	cw.err = nil
	w.Simple("OK")
	if err := w.Flush(); !errors.Is(err, boom) || len(cw.chunks) != 0 {
		t.Fatalf("after an error: Flush = %v, %d writes", err, len(cw.chunks))
	}
}

// wouldBlock hands out its chunks one Read at a time and says errWouldBlock
// between them, as a non-blocking socket with nothing to read would.
type wouldBlock struct {
	chunks []string
	ready  bool
}

var errWouldBlock = errors.New("would block")

func (w *wouldBlock) Read(p []byte) (int, error) {
	if !w.ready {
		return 0, errWouldBlock
	}
	w.ready = false
	if len(w.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.chunks[0])
	if w.chunks[0] = w.chunks[0][n:]; w.chunks[0] == "" {
		w.chunks = w.chunks[1:]
	}
	return n, nil
}

// TestReadCommandResumes: a source that would block mid-command leaves the
// command to be parsed again whole at the next call, and SetSource keeps
// what is buffered.
func TestReadCommandResumes(t *testing.T) {
	in := "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n"
	var chunks []string
	for i := 0; i < len(in); i += 3 {
		chunks = append(chunks, in[i:min(i+3, len(in))])
	}
	src := &wouldBlock{chunks: chunks}
	r := NewReader(src)
	var got []string
	for len(got) < 2 {
		args, err := r.ReadCommand()
		if errors.Is(err, errWouldBlock) {
			src.ready = true
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q", args))
	}
	// Hand the rest over to an ordinary reader mid-command.
	if r.Buffered() == 0 {
		t.Fatal("the test means to switch sources mid-command")
	}
	r.SetSource(strings.NewReader(strings.Join(src.chunks, "")))
	for {
		args, err := r.ReadCommand()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q", args))
	}
	want := []string{`["ECHO" "hello"]`, `["PING"]`, `["QUIT"]`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
