package topology

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// decodeRoleFixture decodes a raw ROLE reply captured in testdata.
func decodeRoleFixture(t *testing.T, file string, opt respOptions) []any {
	t.Helper()
	v, rest, err := decodeRESP(readTestdata(t, file), opt)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(rest) != 0 {
		t.Fatalf("%s: %d trailing bytes", file, len(rest))
	}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: decoded a %T, not an array", file, v)
	}
	return arr
}

// TestParseRoleFixtures parses ROLE replies captured from redis-server and
// redis-sentinel 7.0.15, decoding bulk strings both as string (go-redis) and
// as []byte.
func TestParseRoleFixtures(t *testing.T) {
	tests := []struct {
		file string
		want RoleReply
	}{
		{
			file: "redis-7.0.15-master-role.txt",
			want: RoleReply{
				Role:         RoleMaster,
				MasterOffset: 3844,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"127.0.0.1", 60875}, Offset: 3844, Lag: -1},
					{Addr: Addr{"127.0.0.1", 48089}, Offset: 3844, Lag: -1},
				},
			},
		},
		{
			file: "redis-7.0.15-promoted-master-role.txt",
			want: RoleReply{
				Role:         RoleMaster,
				MasterOffset: 4857,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"127.0.0.1", 48089}, Offset: 4723, Lag: -1},
				},
			},
		},
		{
			file: "redis-7.0.15-ipv6-master-role.txt",
			want: RoleReply{
				Role:         RoleMaster,
				MasterOffset: 64,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"::1", 51183}, Offset: 64, Lag: -1},
				},
			},
		},
		{
			file: "redis-7.0.15-replica-role.txt",
			want: RoleReply{
				Role:          RoleReplica,
				MasterAddr:    Addr{"127.0.0.1", 55067},
				LinkState:     "connected",
				ReplicaOffset: 3844,
			},
		},
		{
			file: "redis-7.0.15-ipv6-replica-role.txt",
			want: RoleReply{
				Role:          RoleReplica,
				MasterAddr:    Addr{"::1", 56545},
				LinkState:     "connected",
				ReplicaOffset: 64,
			},
		},
		{
			// With the link down ROLE reports offset -1 even though INFO
			// still has slave_repl_offset:5125.
			file: "redis-7.0.15-replica-link-down-role.txt",
			want: RoleReply{
				Role:          RoleReplica,
				MasterAddr:    Addr{"127.0.0.1", 60875},
				LinkState:     "connect",
				ReplicaOffset: -1,
			},
		},
		{
			file: "redis-7.0.15-replica-never-connected-role.txt",
			want: RoleReply{
				Role:          RoleReplica,
				MasterAddr:    Addr{"127.0.0.1", 33465},
				LinkState:     "connect",
				ReplicaOffset: -1,
			},
		},
		{
			file: "redis-7.0.15-sentinel-role.txt",
			want: RoleReply{
				Role:        RoleSentinel,
				MasterNames: []string{"other", "mymaster"},
			},
		},
	}
	for _, tt := range tests {
		for _, opt := range []respOptions{{}, {bulkAsBytes: true}} {
			name := tt.file
			if opt.bulkAsBytes {
				name += "/bytes"
			}
			t.Run(name, func(t *testing.T) {
				got, err := ParseRole(decodeRoleFixture(t, tt.file, opt))
				if err != nil {
					t.Fatalf("ParseRole: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("ParseRole mismatch\n got: %+v\nwant: %+v", got, tt.want)
				}
			})
		}
	}
}

// TestParseRoleRepresentations checks the number and string forms a client
// may produce for each element.
func TestParseRoleRepresentations(t *testing.T) {
	master := RoleReply{
		Role:         RoleMaster,
		MasterOffset: 100,
		Replicas:     []ReplicaEntry{{Addr: Addr{"10.0.0.2", 6379}, Offset: 90, Lag: -1}},
	}
	replica := RoleReply{
		Role:          RoleReplica,
		MasterAddr:    Addr{"10.0.0.1", 6379},
		LinkState:     "connected",
		ReplicaOffset: 100,
	}
	tests := []struct {
		name  string
		reply []any
		want  RoleReply
	}{
		{"master int64", []any{"master", int64(100), []any{[]any{"10.0.0.2", int64(6379), int64(90)}}}, master},
		{"master strings", []any{"master", "100", []any{[]any{"10.0.0.2", "6379", "90"}}}, master},
		{"master bytes", []any{[]byte("master"), []byte("100"), []any{[]any{[]byte("10.0.0.2"), []byte("6379"), []byte("90")}}}, master},
		{"master int", []any{"master", 100, []any{[]any{"10.0.0.2", 6379, 90}}}, master},
		{"master uint64", []any{"master", uint64(100), []any{[]any{"10.0.0.2", uint64(6379), uint64(90)}}}, master},
		{"master no replicas", []any{"master", int64(0), []any{}}, RoleReply{Role: RoleMaster}},
		{"master nil replicas", []any{"master", int64(0), nil}, RoleReply{Role: RoleMaster}},
		{"master trailing element", []any{"master", int64(100), []any{[]any{"10.0.0.2", "6379", "90", "extra"}}, "extra"}, master},
		{
			"master skips malformed replicas",
			[]any{"master", int64(100), []any{
				[]any{"10.0.0.2", "6379", "90"},
				[]any{"10.0.0.3", "0", "90"},     // port 0
				[]any{"10.0.0.4", "6379"},        // short
				[]any{"", "6379", "90"},          // no host
				[]any{"10.0.0.5", "6379", "x"},   // bad offset
				[]any{int64(1), "6379", "90"},    // host not a string
				"10.0.0.6",                       // not an array
				nil,                              // null
				[]any{"10.0.0.7", "70000", "90"}, // port out of range
			}},
			master,
		},
		{"replica int64", []any{"slave", "10.0.0.1", int64(6379), "connected", int64(100)}, replica},
		{"replica strings", []any{"slave", "10.0.0.1", "6379", "connected", "100"}, replica},
		{"replica bytes", []any{[]byte("slave"), []byte("10.0.0.1"), []byte("6379"), []byte("connected"), []byte("100")}, replica},
		{"replica trailing element", []any{"slave", "10.0.0.1", int64(6379), "connected", int64(100), "extra"}, replica},
		{
			"replica offset -1",
			[]any{"slave", "::1", int64(6379), "handshake", int64(-1)},
			RoleReply{Role: RoleReplica, MasterAddr: Addr{"::1", 6379}, LinkState: "handshake", ReplicaOffset: -1},
		},
		{"sentinel bytes", []any{"sentinel", []any{[]byte("a"), "b"}}, RoleReply{Role: RoleSentinel, MasterNames: []string{"a", "b"}}},
		{"sentinel none", []any{"sentinel", []any{}}, RoleReply{Role: RoleSentinel}},
		{"sentinel nil", []any{"sentinel", nil}, RoleReply{Role: RoleSentinel}},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.reply)
		if err != nil {
			t.Errorf("%s: ParseRole: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got: %+v\nwant: %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseRoleErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply []any
	}{
		{"nil", nil},
		{"empty", []any{}},
		{"role not a string", []any{int64(1)}},
		{"role nil", []any{nil}},
		{"unknown role", []any{"replica", "10.0.0.1", int64(6379), "connected", int64(0)}},
		{"role case", []any{"MASTER", int64(0), []any{}}},
		{"master short", []any{"master"}},
		{"master no list", []any{"master", int64(0)}},
		{"master offset not a number", []any{"master", "abc", []any{}}},
		{"master offset float", []any{"master", 1.5, []any{}}},
		{"master offset overflow", []any{"master", uint64(math.MaxUint64), []any{}}},
		{"master offset text overflow", []any{"master", "99999999999999999999", []any{}}},
		{"master list not an array", []any{"master", int64(0), "nope"}},
		{"replica short", []any{"slave", "10.0.0.1", int64(6379), "connected"}},
		{"replica host empty", []any{"slave", "", int64(6379), "connected", int64(0)}},
		{"replica host not a string", []any{"slave", int64(1), int64(6379), "connected", int64(0)}},
		{"replica port zero", []any{"slave", "10.0.0.1", int64(0), "connected", int64(0)}},
		{"replica port too big", []any{"slave", "10.0.0.1", int64(65536), "connected", int64(0)}},
		{"replica port text", []any{"slave", "10.0.0.1", "port", "connected", int64(0)}},
		{"replica state not a string", []any{"slave", "10.0.0.1", int64(6379), int64(1), int64(0)}},
		{"replica offset not a number", []any{"slave", "10.0.0.1", int64(6379), "connected", "x"}},
		{"replica offset bool", []any{"slave", "10.0.0.1", int64(6379), "connected", true}},
		{"sentinel short", []any{"sentinel"}},
		{"sentinel list not an array", []any{"sentinel", "mymaster"}},
		{"sentinel name not a string", []any{"sentinel", []any{"a", int64(2)}}},
		{"error element", []any{errors.New("ERR unknown command")}},
	}
	for _, tt := range tests {
		got, err := ParseRole(tt.reply)
		if !errors.Is(err, ErrMalformedRole) {
			t.Errorf("%s: ParseRole = %+v, %v; want ErrMalformedRole", tt.name, got, err)
		}
	}
}

func TestParseRoleErrorMessageIsShort(t *testing.T) {
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'x'
	}
	_, err := ParseRole([]any{string(long)})
	if err == nil {
		t.Fatal("ParseRole accepted a 10000-byte role")
	}
	if len(err.Error()) > 200 {
		t.Errorf("error is %d bytes long: %.80v...", len(err.Error()), err)
	}
}
