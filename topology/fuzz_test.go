package topology

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// addSeeds adds every testdata file matching pattern to the fuzz corpus.
func addSeeds(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	if len(files) == 0 {
		f.Fatalf("no seed files match testdata/%s", pattern)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseInfo checks that ParseInfo never panics, fails only with
// ErrMalformedInfo, returns only well-formed replicas, and does not care
// whether lines end in CRLF or LF.
func FuzzParseInfo(f *testing.F) {
	addSeeds(f, "*-info.txt")
	for _, s := range []string{
		"role:master\r\nslave0:127.0.0.1,6380,online\r\n",
		"role:slave\nmaster_host:::1\nmaster_port:6379\n",
		"redis_mode:sentinel\r\n",
		"role:master\r\nslave0:ip=::1,port=6380,state=online,offset=1,lag=0,type=replica\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		text := string(b)
		info, err := ParseInfo(text)
		if err != nil {
			if !errors.Is(err, ErrMalformedInfo) {
				t.Fatalf("error %v does not wrap ErrMalformedInfo", err)
			}
			if !reflect.DeepEqual(info, Info{}) {
				t.Fatalf("error %v came with a non-zero Info %+v", err, info)
			}
			return
		}
		switch info.Role {
		case RoleMaster, RoleReplica, RoleSentinel:
		default:
			t.Fatalf("accepted with role %q", info.Role)
		}
		for _, r := range info.Replicas {
			if r.Addr.Host == "" || r.Addr.Port < 1 || r.Addr.Port > 65535 {
				t.Fatalf("replica with bad address %+v", r)
			}
		}
		if addr, ok := info.ReplicaOf(); ok && (addr.Host == "" || addr.Port < 1 || addr.Port > 65535) {
			t.Fatalf("ReplicaOf returned bad address %+v", addr)
		}

		lf, err := ParseInfo(strings.ReplaceAll(text, "\r\n", "\n"))
		if err != nil || !reflect.DeepEqual(lf, info) {
			t.Fatalf("LF form parses differently:\n crlf: %+v\n   lf: %+v, %v", info, lf, err)
		}
	})
}

// FuzzParseRole decodes its input as RESP (see resp_test.go) and checks that
// ParseRole never panics, fails only with ErrMalformedRole, returns only
// well-formed addresses, and treats string and []byte elements alike.
func FuzzParseRole(f *testing.F) {
	addSeeds(f, "*-role.txt")
	for _, s := range []string{
		"*3\r\n+master\r\n:0\r\n*0\r\n",
		"*3\r\n$6\r\nmaster\r\n$3\r\n100\r\n*1\r\n*3\r\n:1\r\n:6379\r\n:5\r\n",
		"*5\r\n+slave\r\n$3\r\n::1\r\n$4\r\n6379\r\n+handshake\r\n:-1\r\n",
		"*2\r\n+sentinel\r\n_\r\n",
		"*2\r\n$8\r\nsentinel\r\n*2\r\n#t\r\n,1.5\r\n",
		"-ERR unknown command 'ROLE'\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		strVal, _, err := decodeRESP(b, respOptions{})
		if err != nil {
			return
		}
		bytesVal, _, err := decodeRESP(b, respOptions{bulkAsBytes: true})
		if err != nil {
			t.Fatalf("decodes with strings but not with bytes: %v", err)
		}
		sr, serr := ParseRole(toArray(strVal))
		br, berr := ParseRole(toArray(bytesVal))
		if (serr == nil) != (berr == nil) || !reflect.DeepEqual(sr, br) {
			t.Fatalf("string and []byte forms differ:\n  string: %+v, %v\n  []byte: %+v, %v", sr, serr, br, berr)
		}
		if serr != nil {
			if !errors.Is(serr, ErrMalformedRole) {
				t.Fatalf("error %v does not wrap ErrMalformedRole", serr)
			}
			if !reflect.DeepEqual(sr, RoleReply{}) {
				t.Fatalf("error %v came with a non-zero RoleReply %+v", serr, sr)
			}
			return
		}
		checkRoleReply(t, sr)
	})
}

// toArray wraps a decoded value that is not an array, so that the fuzzer also
// feeds ParseRole single-element replies.
func toArray(v any) []any {
	if arr, ok := v.([]any); ok {
		return arr
	}
	return []any{v}
}

// checkRoleReply fails t if an accepted ROLE reply is not well formed.
func checkRoleReply(t *testing.T, rr RoleReply) {
	t.Helper()
	validAddr := func(a Addr) bool { return a.Host != "" && a.Port >= 1 && a.Port <= 65535 }
	switch rr.Role {
	case RoleMaster:
		for _, r := range rr.Replicas {
			if !validAddr(r.Addr) || r.Lag != -1 || r.State != "" {
				t.Fatalf("master reply with bad replica %+v", r)
			}
		}
	case RoleReplica:
		if !validAddr(rr.MasterAddr) {
			t.Fatalf("replica reply with bad master address %+v", rr.MasterAddr)
		}
	case RoleSentinel:
	default:
		t.Fatalf("accepted with role %q", rr.Role)
	}
}
