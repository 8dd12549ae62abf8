package sentinel

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in    string
		kind  byte
		body  string
		elems []string // bodies of the kept elements of an array
		n     int      // bytes taken; 0 means all of in
	}{
		{in: "+PONG\r\n", kind: '+', body: "PONG"},
		{in: "-LOADING Redis is loading\r\n", kind: '-', body: "LOADING Redis is loading"},
		{in: ":12\r\n", kind: ':', body: "12"},
		{in: ":-3\r\n", kind: ':', body: "-3"},
		{in: ":9223372036854775807\r\n", kind: ':', body: "9223372036854775807"},
		{in: "$5\r\nhello\r\n", kind: '$', body: "hello"},
		{in: "$0\r\n\r\n", kind: '$', body: ""},
		{in: "$-1\r\n", kind: 0},
		{in: "*-1\r\n", kind: 0},
		{in: "$2\r\na\n\r\n", kind: '$', body: "a\n"},
		{in: "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nabc\r\n", kind: '*', elems: []string{"message", "ch", "abc"}},
		{in: "*2\r\n$4\r\npong\r\n$0\r\n\r\n", kind: '*', elems: []string{"pong", ""}},
		{in: "*4\r\n+a\r\n+b\r\n+c\r\n*1\r\n:1\r\n", kind: '*', elems: []string{"a", "b", "c"}},
		{in: "+OK\r\n+QUEUED\r\n", kind: '+', body: "OK", n: 5},
	} {
		var r reply
		n, _, err := parseReply([]byte(tc.in), &r)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		want := tc.n
		if want == 0 {
			want = len(tc.in)
		}
		if n != want || r.kind != tc.kind || string(r.body) != tc.body {
			t.Errorf("%q: n %d kind %q body %q, want %d %q %q", tc.in, n, r.kind, r.body, want, tc.kind, tc.body)
		}
		for i, e := range tc.elems {
			if string(r.elems[i].body) != e {
				t.Errorf("%q: element %d %q, want %q", tc.in, i, r.elems[i].body, e)
			}
		}
		// Every proper prefix is incomplete, and says how much it needs.
		for cut := range want {
			n, need, err := parseReply([]byte(tc.in[:cut]), &r)
			if !errors.Is(err, errIncomplete) || n != 0 || need <= cut || need > want {
				t.Errorf("%q cut at %d: n %d need %d err %v", tc.in, cut, n, need, err)
			}
		}
	}
}

func TestParseReplyMessage(t *testing.T) {
	var r reply
	if _, _, err := parseReply([]byte("*3\r\n$7\r\nmessage\r\n$15\r\n__vigil__:hello\r\n$5\r\nhello\r\n"), &r); err != nil {
		t.Fatal(err)
	}
	if p, ok := r.isMessage(); !ok || string(p) != "hello" {
		t.Errorf("isMessage = %q, %v", p, ok)
	}
	if _, _, err := parseReply([]byte("*3\r\n$9\r\nsubscribe\r\n$15\r\n__vigil__:hello\r\n:1\r\n"), &r); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.isMessage(); ok {
		t.Error("a subscribe confirmation taken for a message")
	}
}

func TestParseReplyRejects(t *testing.T) {
	for _, in := range []string{
		"PONG\r\n",                     // no type byte
		"+PONG\n",                      // bare LF
		"\r\n",                         // empty line
		":12a\r\n",                     // not a number
		":99999999999999999999999\r\n", // too long
		":9223372036854775808\r\n",
		":--1\r\n",
		":-\r\n",
		"$abc\r\n",
		"$-2\r\n",
		"$3\r\nabcd\r\n", // wrong length
		"*-2\r\n",
		"*1025\r\n",                            // longer than maxReplyArray
		"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", // deeper than maxReplyDepth
		"$67108865\r\n",                        // longer than maxReplyBulk
		"%2\r\n",                               // RESP3 is never asked for
	} {
		var r reply
		if _, _, err := parseReply([]byte(in), &r); !errors.Is(err, errProtocol) {
			t.Errorf("%q: err %v, want errProtocol", in, err)
		}
	}
	long := "+" + strings.Repeat("x", maxReplyLine+1)
	var r reply
	if _, _, err := parseReply([]byte(long), &r); !errors.Is(err, errProtocol) {
		t.Errorf("endless line: err %v, want errProtocol", err)
	}
}

// TestParseReplyAllocs: the steady replies of a link are parsed in place.
func TestParseReplyAllocs(t *testing.T) {
	in := []byte("+PONG\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nabc\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		var r reply
		for b := in; len(b) > 0; {
			n, _, err := parseReply(b, &r)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

// FuzzParseReply: parseReply never panics, never takes more than it was
// given, and agrees with itself when the input arrives in two parts.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"+PONG\r\n", ":1\r\n", "$3\r\nabc\r\n", "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\np\r\n", "-ERR x\r\n", "*1\r\n*1\r\n:1\r\n"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		var whole reply
		n, need, err := parseReply(b, &whole)
		switch {
		case err == nil && (n <= 0 || n > len(b)):
			t.Fatalf("took %d of %d bytes", n, len(b))
		case errors.Is(err, errIncomplete) && need <= len(b):
			t.Fatalf("incomplete with %d bytes, needs %d", len(b), need)
		case err != nil && !errors.Is(err, errIncomplete) && !errors.Is(err, errProtocol):
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil {
			return
		}
		// A prefix is incomplete (or already invalid), never a different reply.
		k := int(cut) % n
		var part reply
		if pn, _, perr := parseReply(b[:k], &part); perr == nil {
			t.Fatalf("prefix of %d bytes parsed as a reply of %d (whole: %d)", k, pn, n)
		}
		// The same bytes parse the same way a second time.
		var again reply
		if n2, _, err2 := parseReply(bytes.Clone(b[:n]), &again); err2 != nil || n2 != n || again.kind != whole.kind || !bytes.Equal(again.body, whole.body) {
			t.Fatalf("reparse: %d %v %q, want %d %q", n2, err2, again.body, n, whole.body)
		}
	})
}
