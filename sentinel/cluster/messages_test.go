package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

var (
	idA = strings.Repeat("a", 40)
	idB = strings.Repeat("b", 40)
)

func mustEncode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encode(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return b
}

func slogTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return dropTime(a) },
	}))
}

func dropTime(a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func sampleState() NodeState {
	return NodeState{
		From: idA, RESPAddr: "10.0.0.1:26379", Boot: 0x5eed, Seq: 3, CurrentEpoch: 12, SentAt: 1700000000000,
		Masters: []MasterState{
			{Name: "mymaster", Addr: "10.0.0.5:6379", ConfigEpoch: 11, SDown: true, SDownSinceMs: 4200, LeaderEpoch: 12, Leader: idB},
			{Name: "cache.eu-1", Addr: "[fd00::1]:6380", ConfigEpoch: 0},
		},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, v := range []any{
		sampleState(),
		NodeState{From: idA, RESPAddr: "h:1", Masters: []MasterState{}},
		VoteRequest{From: idA, Master: "mymaster", MasterAddr: "10.0.0.5:6379", Epoch: 13, Candidate: idA, ReqID: 7},
		VoteRequest{From: idA, Master: "mymaster", MasterAddr: "10.0.0.5:6379", Candidate: "*"},
		VoteReply{From: idB, Master: "mymaster", Down: true, Leader: idA, LeaderEpoch: 13, ReqID: 7},
		VoteReply{From: "n1", Master: "m", Leader: "*"},
	} {
		b := mustEncode(t, v)
		got, err := decode(b)
		if err != nil {
			t.Errorf("decode(encode(%+v)): %v", v, err)
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %T:\n got %+v\nwant %+v", v, got, v)
		}
	}
}

func TestWireFormatIsStable(t *testing.T) {
	b := mustEncode(t, VoteReply{From: idB, Master: "m", Down: true, Leader: "*", LeaderEpoch: 3, ReqID: 9})
	want := "\x01\x03" + `{"from":"` + idB + `","master":"m","down":true,"leader":"*","leader_epoch":3,"req_id":9}`
	if string(b) != want {
		t.Errorf("encoding:\n got %q\nwant %q", b, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	st := func(mut func(*NodeState)) []byte {
		s := sampleState()
		mut(&s)
		// Bypass encode's checks: encode does not validate.
		return mustEncode(t, s)
	}
	body := func(k Kind, json string) []byte { return append([]byte{wireVersion, byte(k)}, json...) }
	okState := string(mustEncode(t, sampleState())[2:])

	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"nil":                   {nil, errTooShort},
		"header only":           {[]byte{wireVersion, byte(KindState)}, errInvalid},
		"version 0":             {append([]byte{0}, mustEncode(t, sampleState())[1:]...), errVersion},
		"version 2":             {append([]byte{2}, mustEncode(t, sampleState())[1:]...), errVersion},
		"kind 0":                {body(0, okState), errUnknownKind},
		"kind 4":                {body(4, okState), errUnknownKind},
		"too large":             {body(KindState, okState+strings.Repeat(" ", MaxMessageSize)), errTooLarge},
		"not json":              {body(KindState, "hello"), errInvalid},
		"array":                 {body(KindState, "[]"), errInvalid},
		"null body":             {body(KindState, "null"), errInvalid},
		"trailing data":         {body(KindState, okState+"{}"), errInvalid},
		"wrong type":            {body(KindState, strings.Replace(okState, `"current_epoch":12`, `"current_epoch":"12"`, 1)), errInvalid},
		"negative epoch":        {body(KindState, strings.Replace(okState, `"current_epoch":12`, `"current_epoch":-1`, 1)), errInvalid},
		"missing masters":       {body(KindState, `{"from":"`+idA+`","resp_addr":"h:1","boot":1,"seq":1,"current_epoch":1,"sent_at_ms":1}`), errInvalid},
		"missing seq":           {body(KindState, strings.Replace(okState, `"seq":3,`, ``, 1)), errInvalid},
		"missing master field":  {body(KindState, strings.Replace(okState, `"sdown":true,`, ``, 1)), errInvalid},
		"bad from":              {st(func(s *NodeState) { s.From = "not an id" }), errInvalid},
		"empty from":            {st(func(s *NodeState) { s.From = "" }), errInvalid},
		"bad resp addr":         {st(func(s *NodeState) { s.RESPAddr = "10.0.0.1" }), errInvalid},
		"port 0":                {st(func(s *NodeState) { s.RESPAddr = "10.0.0.1:0" }), errInvalid},
		"port 65536":            {st(func(s *NodeState) { s.RESPAddr = "10.0.0.1:65536" }), errInvalid},
		"empty master name":     {st(func(s *NodeState) { s.Masters[0].Name = "" }), errInvalid},
		"master name charset":   {st(func(s *NodeState) { s.Masters[0].Name = "my master" }), errInvalid},
		"duplicate master":      {st(func(s *NodeState) { s.Masters[1].Name = s.Masters[0].Name }), errInvalid},
		"bad master addr":       {st(func(s *NodeState) { s.Masters[0].Addr = "nowhere" }), errInvalid},
		"negative sdown time":   {st(func(s *NodeState) { s.Masters[0].SDownSinceMs = -1 }), errInvalid},
		"sdown time, not sdown": {st(func(s *NodeState) { s.Masters[0].SDown = false }), errInvalid},
		"bad leader":            {st(func(s *NodeState) { s.Masters[0].Leader = "*" }), errInvalid},
		"vote bad candidate":    {mustEncode(t, VoteRequest{From: idA, Master: "m", MasterAddr: "h:1", Candidate: "x y"}), errInvalid},
		"vote no master addr":   {mustEncode(t, VoteRequest{From: idA, Master: "m"}), errInvalid},
		"vote missing req_id":   {body(KindVoteRequest, `{"from":"`+idA+`","master":"m","master_addr":"h:1","epoch":1,"candidate":""}`), errInvalid},
		"reply bad leader":      {mustEncode(t, VoteReply{From: idA, Master: "m", Leader: "??"}), errInvalid},
		"reply no from":         {mustEncode(t, VoteReply{Master: "m"}), errInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decode = %+v, %v; want error %v", v, err, tc.want)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	in := []byte("\x01\x03" + `{"from":"` + idB + `","master":"m","down":false,"leader":"","leader_epoch":0,"req_id":1,"added_later":[1,2]}`)
	if _, err := decode(in); err != nil {
		t.Fatalf("a newer peer's extra field was refused: %v", err)
	}
}

func TestEncodeRefusesOversizedState(t *testing.T) {
	st := NodeState{From: idA, RESPAddr: "h:1"}
	for range MaxMessageSize / 50 {
		st.Masters = append(st.Masters, MasterState{Name: strings.Repeat("m", 40), Addr: "10.0.0.1:6379"})
	}
	if _, err := encode(st); !errors.Is(err, errTooLarge) {
		t.Fatalf("encode: %v, want errTooLarge", err)
	}
	if _, err := encode(42); !errors.Is(err, errUnknownKind) {
		t.Fatalf("encode(42): %v, want errUnknownKind", err)
	}
}

func TestNodeMeta(t *testing.T) {
	b, err := encodeMeta("10.0.0.1:26379")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeMeta(b); err != nil || got != "10.0.0.1:26379" {
		t.Errorf("decodeMeta = %q, %v", got, err)
	}
	for _, bad := range []string{"", "{}", `{"v":2,"resp_addr":"h:1"}`, `{"v":1,"resp_addr":"h"}`, "\xff"} {
		if got, err := decodeMeta([]byte(bad)); err == nil {
			t.Errorf("decodeMeta(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzDecode checks that decode never panics, and that whatever it accepts
// encodes back to something it decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{
		sampleState(),
		sampleConfigState(),
		VoteRequest{From: idA, Master: "mymaster", MasterAddr: "10.0.0.5:6379", Epoch: 13, Candidate: "*", ReqID: 7},
		VoteReply{From: idB, Master: "mymaster", Down: true, Leader: idA, LeaderEpoch: 13, ReqID: 7},
	} {
		f.Add(mustEncode(f, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			return
		}
		again, err := encode(v)
		if errors.Is(err, errTooLarge) {
			return // JSON escaping can make the re-encoding longer
		}
		if err != nil {
			t.Fatalf("encode(%+v): %v", v, err)
		}
		w, err := decode(again)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", v, err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(w)) {
			t.Fatalf("round trip changed the value:\n%+v\n%+v", v, w)
		}
	})
}

// normalize makes an empty and a nil Masters, Config or Options compare
// equal.
func normalize(v any) any {
	st, ok := v.(NodeState)
	if !ok {
		return v
	}
	if len(st.Masters) == 0 {
		st.Masters = nil
	}
	if len(st.Config) == 0 {
		st.Config = nil
	}
	cfg := make([]ConfigEntry, len(st.Config))
	for i, e := range st.Config {
		if len(e.Options) == 0 {
			e.Options = nil
		}
		cfg[i] = e
	}
	if st.Config != nil {
		st.Config = cfg
	}
	return st
}
