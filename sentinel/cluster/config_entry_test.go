package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleConfigState is a state carrying runtime configuration: a master
// monitored at runtime, a file master with changed options, a tombstone.
func sampleConfigState() NodeState {
	st := sampleState()
	st.Config = []ConfigEntry{
		{Name: "added", Version: 7, Writer: idB, Monitor: true, Addr: "10.0.0.9:6379",
			Options: map[string]string{"quorum": "2", "down-after-milliseconds": "5000", "auth-pass": "s3cret é"}},
		{Name: "mymaster", Version: 3, Writer: idA, Addr: "10.0.0.5:6379",
			Options: map[string]string{"rename-command config": "cfg"}},
		{Name: "gone", Version: 9, Writer: idA, Removed: true},
	}
	st.ConfigDigest = 0xfeedface12345678
	return st
}

func TestConfigEntriesRoundTrip(t *testing.T) {
	want := sampleConfigState()
	got, err := decode(mustEncode(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigEntriesRejected(t *testing.T) {
	with := func(f func(e *ConfigEntry)) []byte {
		st := sampleConfigState()
		f(&st.Config[0])
		b, err := encode(st)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	okBody := string(mustEncode(t, sampleConfigState())[headerLen:])
	raw := func(s string) []byte { return append([]byte{wireVersion, byte(KindState)}, s...) }
	cases := map[string][]byte{
		"bad name":          with(func(e *ConfigEntry) { e.Name = "a b" }),
		"version 0":         with(func(e *ConfigEntry) { e.Version = 0 }),
		"bad writer":        with(func(e *ConfigEntry) { e.Writer = "" }),
		"no addr":           with(func(e *ConfigEntry) { e.Addr = "" }),
		"bad addr":          with(func(e *ConfigEntry) { e.Addr = "10.0.0.9" }),
		"tombstone + addr":  with(func(e *ConfigEntry) { e.Removed = true }),
		"empty option name": with(func(e *ConfigEntry) { e.Options[""] = "1" }),
		"control char key":  with(func(e *ConfigEntry) { e.Options["quorum\n"] = "1" }),
		"NUL in value":      with(func(e *ConfigEntry) { e.Options["auth-pass"] = "a\x00b" }),
		"huge value":        with(func(e *ConfigEntry) { e.Options["auth-pass"] = strings.Repeat("x", maxOptionValueLen+1) }),
		"duplicate name":    with(func(e *ConfigEntry) { e.Name = "mymaster" }),
		"missing version":   raw(strings.Replace(okBody, `"version":7,`, ``, 1)),
		"null writer":       raw(strings.Replace(okBody, `"writer":"`+idB+`"`, `"writer":null`, 1)),
		"entry not object":  raw(strings.Replace(okBody, `"config":[`, `"config":[1,`, 1)),
		"options not map":   raw(strings.Replace(okBody, `"options":{`, `"options":[],"x":{`, 1)),
	}
	for name, b := range cases {
		if _, err := decode(b); !errors.Is(err, errInvalid) {
			t.Errorf("%s: decode error %v, want errInvalid", name, err)
		}
	}
	many := sampleState()
	many.Config = []ConfigEntry{{Name: "m", Version: 1, Writer: idA, Addr: "h:1", Options: map[string]string{}}}
	for i := 0; i <= maxConfigOptions; i++ {
		many.Config[0].Options[strings.Repeat("k", i+1)] = "v"
	}
	if _, err := decode(mustEncode(t, many)); !errors.Is(err, errInvalid) {
		t.Errorf("too many options: %v", err)
	}
}
