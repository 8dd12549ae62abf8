package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([][]string, error) {
	t.Helper()
	r := NewReader(strings.NewReader(in))
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmds, err := readAll(t, tc.in)
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
	w.Flush()
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
	w.Flush()
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
