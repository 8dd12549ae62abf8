package topology

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readTestdata returns the contents of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const noReplID = "0000000000000000000000000000000000000000"

// TestParseInfoFixtures parses INFO replies captured from redis-server 7.0.15
// (see testdata/README.md) and hand-written ones for other versions.
func TestParseInfoFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Info
	}{
		{
			file: "redis-7.0.15-master-info.txt",
			want: Info{
				RunID:             "49dcb3353a25edfab527262e4032d63859a53068",
				RedisVersion:      "7.0.15",
				TCPPort:           55067,
				Mode:              "standalone",
				Role:              RoleMaster,
				MasterReplID:      "cc5fe4ed2fa78e509955cfed1e53f11f9dcbe7e9",
				MasterReplID2:     noReplID,
				MasterReplOffset:  3844,
				SecondReplOffset:  -1,
				ConnectedReplicas: 2,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"127.0.0.1", 60875}, State: "online", Offset: 3844, Lag: 1},
					{Addr: Addr{"127.0.0.1", 48089}, State: "online", Offset: 3844, Lag: 1},
				},
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				ReplicaPriority:     100,
				Keys:                101,
				KeysKnown:           true,
				MasterLastIOSecs:    -1,
				ReplicaAnnounced:    true,
			},
		},
		{
			file: "redis-7.0.15-replica-info.txt",
			want: Info{
				RunID:               "34b11e0acd79a3833ef695b553abf0b06c46afc3",
				RedisVersion:        "7.0.15",
				TCPPort:             48089,
				Mode:                "standalone",
				Role:                RoleReplica,
				MasterReplID:        "cc5fe4ed2fa78e509955cfed1e53f11f9dcbe7e9",
				MasterReplID2:       noReplID,
				MasterReplOffset:    3844,
				SecondReplOffset:    -1,
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				MasterHost:          "127.0.0.1",
				MasterPort:          55067,
				MasterLinkUp:        true,
				ReplicaReplOffset:   3844,
				ReplicaPriority:     50,
				Keys:                101,
				KeysKnown:           true,
				MasterLastIOSecs:    2,
				ReplicaAnnounced:    true,
				ReplicaReadOnly:     true,
			},
		},
		{
			file: "redis-7.0.15-replica-link-down-info.txt",
			want: Info{
				RunID:                   "34b11e0acd79a3833ef695b553abf0b06c46afc3",
				RedisVersion:            "7.0.15",
				TCPPort:                 48089,
				Mode:                    "standalone",
				Role:                    RoleReplica,
				MasterReplID:            "b7a2fe5a8c96b2088d6dd747a1f5e2eb2e484748",
				MasterReplID2:           "cc5fe4ed2fa78e509955cfed1e53f11f9dcbe7e9",
				MasterReplOffset:        5125,
				SecondReplOffset:        4663,
				MasterFailoverState:     "no-failover",
				MinReplicasGood:         -1,
				MasterHost:              "127.0.0.1",
				MasterPort:              60875,
				MasterLinkDownSinceSecs: 1,
				ReplicaReplOffset:       5125,
				ReplicaPriority:         50,
				Keys:                    102,
				KeysKnown:               true,
				MasterLastIOSecs:        -1,
				ReplicaAnnounced:        true,
				ReplicaReadOnly:         true,
			},
		},
		{
			file: "redis-7.0.15-replica-never-connected-info.txt",
			want: Info{
				RunID:                   "2a4b0b9af67973817e46e5d693a753b9c17e94d3",
				RedisVersion:            "7.0.15",
				TCPPort:                 57243,
				Mode:                    "standalone",
				Role:                    RoleReplica,
				MasterReplID:            "d9d4add5dbbf6c341e91b32bda762829e4cf9cd0",
				MasterReplID2:           noReplID,
				SecondReplOffset:        -1,
				MasterFailoverState:     "no-failover",
				MinReplicasGood:         -1,
				MasterHost:              "127.0.0.1",
				MasterPort:              33465,
				MasterLinkDownSinceSecs: -1,
				ReplicaReplOffset:       1,
				ReplicaPriority:         100,
				Keys:                    0,
				KeysKnown:               true,
				MasterLastIOSecs:        -1,
				ReplicaAnnounced:        true,
				ReplicaReadOnly:         true,
			},
		},
		{
			// A replica promoted with REPLICAOF NO ONE keeps its old master's
			// replication ID as master_replid2.
			file: "redis-7.0.15-promoted-master-info.txt",
			want: Info{
				RunID:             "5a168230309824daa6b12190aa93e1c6e72e9f97",
				RedisVersion:      "7.0.15",
				TCPPort:           60875,
				Mode:              "standalone",
				Role:              RoleMaster,
				MasterReplID:      "b7a2fe5a8c96b2088d6dd747a1f5e2eb2e484748",
				MasterReplID2:     "cc5fe4ed2fa78e509955cfed1e53f11f9dcbe7e9",
				MasterReplOffset:  4857,
				SecondReplOffset:  4663,
				ConnectedReplicas: 1,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"127.0.0.1", 48089}, State: "online", Offset: 4723, Lag: 1},
				},
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				ReplicaPriority:     100,
				Keys:                102,
				KeysKnown:           true,
				MasterLastIOSecs:    -1,
				ReplicaAnnounced:    true,
			},
		},
		{
			file: "redis-7.0.15-ipv6-master-info.txt",
			want: Info{
				RunID:             "6327a7527c67b51541ee94241b3b6ae45e011914",
				RedisVersion:      "7.0.15",
				TCPPort:           56545,
				Mode:              "standalone",
				Role:              RoleMaster,
				MasterReplID:      "4cf445ca8a3467deba230e9b5cd97c5ec4059a1d",
				MasterReplID2:     noReplID,
				MasterReplOffset:  64,
				SecondReplOffset:  -1,
				ConnectedReplicas: 1,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"::1", 51183}, State: "online", Offset: 50, Lag: 1},
				},
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				ReplicaPriority:     100,
				Keys:                1,
				KeysKnown:           true,
				MasterLastIOSecs:    -1,
				ReplicaAnnounced:    true,
			},
		},
		{
			// Started with --replica-priority 0 --replica-announced no.
			file: "redis-7.0.15-ipv6-replica-info.txt",
			want: Info{
				RunID:               "51d8aea6b35faf957f72f103728e71c0e9df7139",
				RedisVersion:        "7.0.15",
				TCPPort:             51183,
				Mode:                "standalone",
				Role:                RoleReplica,
				MasterReplID:        "4cf445ca8a3467deba230e9b5cd97c5ec4059a1d",
				MasterReplID2:       noReplID,
				MasterReplOffset:    64,
				SecondReplOffset:    -1,
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				MasterHost:          "::1",
				MasterPort:          56545,
				MasterLinkUp:        true,
				ReplicaReplOffset:   64,
				ReplicaPriority:     0,
				Keys:                1,
				KeysKnown:           true,
				MasterLastIOSecs:    2,
				ReplicaAnnounced:    false,
				ReplicaReadOnly:     true,
			},
		},
		{
			// A Sentinel's INFO has no replication section.
			file: "redis-7.0.15-sentinel-info.txt",
			want: Info{
				RunID:            "c55382da8b3c23a8a5acf81003f4dee7cd291aed",
				RedisVersion:     "7.0.15",
				TCPPort:          56877,
				Mode:             "sentinel",
				Role:             RoleSentinel,
				SecondReplOffset: -1,
				MinReplicasGood:  -1,
				ReplicaPriority:  100,
				MasterLastIOSecs: -1,
				ReplicaAnnounced: true,
			},
		},
		{
			// Redis 2.6 printed slaveN lines as ip,port,state and had no
			// replication IDs or offsets. The third line has a bad port.
			file: "redis-2.6.17-master-info.txt",
			want: Info{
				RunID:             "8f1b0b4c6c2a1e4a5d1f7d1f3c0a9b8e7d6c5b4a",
				RedisVersion:      "2.6.17",
				TCPPort:           6379,
				Mode:              "standalone",
				Role:              RoleMaster,
				SecondReplOffset:  -1,
				ConnectedReplicas: 3,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"10.0.0.2", 6379}, State: "online", Lag: -1},
					{Addr: Addr{"10.0.0.3", 6380}, State: "send_bulk", Lag: -1},
				},
				MinReplicasGood:  -1,
				ReplicaPriority:  100,
				MasterLastIOSecs: -1,
				ReplicaAnnounced: true,
			},
		},
		{
			// Redis 6.0 (LF line endings here): no replica_announced, no
			// master_failover_state; a never-connected link reports seconds
			// since the epoch as master_link_down_since_seconds.
			file: "redis-6.0.20-replica-syncing-info.txt",
			want: Info{
				RunID:                   "1d2b0c4e5f60718293a4b5c6d7e8f90123456789",
				RedisVersion:            "6.0.20",
				TCPPort:                 6380,
				Mode:                    "standalone",
				Role:                    RoleReplica,
				MasterReplID:            "8e6a2b3c4d5e6f708192a3b4c5d6e7f809123456",
				MasterReplID2:           noReplID,
				SecondReplOffset:        -1,
				MinReplicasGood:         -1,
				MasterHost:              "redis-0.redis.default.svc.cluster.local",
				MasterPort:              6379,
				MasterLinkDownSinceSecs: 1700000000,
				ReplicaReplOffset:       1,
				ReplicaPriority:         10,
				MasterLastIOSecs:        -1,
				ReplicaAnnounced:        true,
				ReplicaReadOnly:         false,
				MasterSyncInProgress:    true,
			},
		},
		{
			// Redis 6.2.0 with min-replicas-to-write configured: has
			// master_failover_state, not yet replica_announced (6.2.2).
			file: "redis-6.2.0-master-info.txt",
			want: Info{
				RunID:             "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
				RedisVersion:      "6.2.0",
				TCPPort:           6379,
				Mode:              "standalone",
				Role:              RoleMaster,
				MasterReplID:      "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
				MasterReplID2:     noReplID,
				MasterReplOffset:  987654,
				SecondReplOffset:  -1,
				ConnectedReplicas: 2,
				MinReplicasGood:   1,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"10.1.0.5", 6379}, State: "online", Offset: 987654, Lag: 0},
					{Addr: Addr{"10.1.0.6", 6379}, State: "wait_bgsave", Offset: 0, Lag: 12},
				},
				MasterFailoverState: "no-failover",
				ReplicaPriority:     100,
				MasterLastIOSecs:    -1,
				ReplicaAnnounced:    true,
			},
		},
		{
			// Redis 7.2 adds listenerN lines to the server section (not
			// replicas); this replica has a sub-replica and an IPv6 master.
			file: "redis-7.2.4-replica-info.txt",
			want: Info{
				RunID:             "77aa88bb99cc00dd11ee22ff33aa44bb55cc66dd",
				RedisVersion:      "7.2.4",
				TCPPort:           6381,
				Mode:              "standalone",
				Role:              RoleReplica,
				MasterReplID:      "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
				MasterReplID2:     noReplID,
				MasterReplOffset:  424242,
				SecondReplOffset:  -1,
				ConnectedReplicas: 1,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"fd00::12", 6379}, State: "online", Offset: 424200, Lag: 1},
				},
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				MasterHost:          "fd00::10",
				MasterPort:          6379,
				MasterLinkUp:        true,
				ReplicaReplOffset:   424242,
				ReplicaPriority:     0,
				MasterLastIOSecs:    1,
				ReplicaAnnounced:    false,
				ReplicaReadOnly:     true,
			},
		},
		{
			// Valkey 8: server_mode instead of redis_mode, type= on slaveN
			// lines, and a replica listed twice during dual-channel sync.
			file: "valkey-8.0.1-master-info.txt",
			want: Info{
				RunID:             "feedfacefeedfacefeedfacefeedfacefeedface",
				RedisVersion:      "7.2.4",
				TCPPort:           6379,
				Mode:              "standalone",
				Role:              RoleMaster,
				MasterReplID:      "5555555555555555555555555555555555555555",
				MasterReplID2:     noReplID,
				MasterReplOffset:  5000,
				SecondReplOffset:  -1,
				ConnectedReplicas: 3,
				Replicas: []ReplicaEntry{
					{Addr: Addr{"10.2.0.7", 6379}, State: "online", Offset: 5000, Lag: 0, Type: "replica"},
					{Addr: Addr{"10.2.0.8", 6379}, State: "wait_bgsave", Offset: 0, Lag: 0, Type: "rdb-channel"},
					{Addr: Addr{"10.2.0.8", 6379}, State: "bg_transfer", Offset: 0, Lag: 0, Type: "main-channel"},
				},
				MasterFailoverState: "no-failover",
				MinReplicasGood:     -1,
				ReplicaPriority:     100,
				MasterLastIOSecs:    -1,
				ReplicaAnnounced:    true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseInfo(string(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatalf("ParseInfo: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInfo mismatch\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
}

// TestParseInfoLineEndings checks that CRLF, LF and a missing final newline
// all parse alike.
func TestParseInfoLineEndings(t *testing.T) {
	crlf := string(readTestdata(t, "redis-7.0.15-master-info.txt"))
	if !strings.Contains(crlf, "\r\n") {
		t.Fatal("fixture lost its CRLF line endings; see testdata/.gitattributes")
	}
	want, err := ParseInfo(crlf)
	if err != nil {
		t.Fatal(err)
	}
	lf := strings.ReplaceAll(crlf, "\r\n", "\n")
	for name, text := range map[string]string{
		"lf":            lf,
		"no final crlf": strings.TrimSuffix(crlf, "\r\n"),
		"no final lf":   strings.TrimSuffix(lf, "\n"),
	} {
		got, err := ParseInfo(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
}

func TestParseInfoDefaults(t *testing.T) {
	got, err := ParseInfo("role:master")
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		Role:             RoleMaster,
		MasterLastIOSecs: -1,
		SecondReplOffset: -1,
		MinReplicasGood:  -1,
		ReplicaPriority:  100,
		ReplicaAnnounced: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestParseInfoLenient checks that bad values and junk lines are ignored
// rather than failing the whole reply.
func TestParseInfoLenient(t *testing.T) {
	text := strings.Join([]string{
		"# Replication",
		"role:slave",
		"this line has no colon",
		":empty key",
		"master_host:10.0.0.1",
		"master_port:6379",
		"slave_priority:high",     // not a number: default kept
		"slave_repl_offset:12x",   // not a number: default kept
		"replica_announced:maybe", // not 0/1: default kept
		"replica_priority:7",      // alias of slave_priority
		"slave_read_only:1",
		"slave0:ip=10.0.0.9",   // no port: skipped
		"slave_lag_whatever:3", // not slaveN
		"slave1:ip=10.0.0.8,port=6379,state=online,offset=5,lag=0",
		"",
	}, "\r\n")
	got, err := ParseInfo(text)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		MasterLastIOSecs: -1,
		Role:             RoleReplica,
		SecondReplOffset: -1,
		MinReplicasGood:  -1,
		MasterHost:       "10.0.0.1",
		MasterPort:       6379,
		ReplicaPriority:  7,
		ReplicaAnnounced: true,
		ReplicaReadOnly:  true,
		Replicas: []ReplicaEntry{
			{Addr: Addr{"10.0.0.8", 6379}, State: "online", Offset: 5, Lag: 0},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseInfoErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"blank lines", "\r\n\r\n"},
		{"error reply", "ERR unknown command 'INFO'"},
		{"noauth", "NOAUTH Authentication required."},
		{"server section only", "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nrun_id:abc\r\n"},
		{"unknown role", "# Replication\r\nrole:replica\r\n"},
		{"empty role", "role:\r\n"},
		{"role with trailing space", "role:master \r\n"},
		{"binary", "\x00\x01\xff:\xfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfo(tt.text)
			if !errors.Is(err, ErrMalformedInfo) {
				t.Fatalf("ParseInfo = %+v, %v; want ErrMalformedInfo", got, err)
			}
		})
	}
}

func TestParseReplicaLine(t *testing.T) {
	tests := []struct {
		value string
		want  ReplicaEntry
		ok    bool
	}{
		{"ip=127.0.0.1,port=6380,state=online,offset=123,lag=0",
			ReplicaEntry{Addr: Addr{"127.0.0.1", 6380}, State: "online", Offset: 123, Lag: 0}, true},
		{"ip=::1,port=6380,state=online,offset=123,lag=2",
			ReplicaEntry{Addr: Addr{"::1", 6380}, State: "online", Offset: 123, Lag: 2}, true},
		{"ip=fe80::1%eth0,port=6380,state=send_bulk,offset=0,lag=0",
			ReplicaEntry{Addr: Addr{"fe80::1%eth0", 6380}, State: "send_bulk", Offset: 0, Lag: 0}, true},
		{"ip=replica-1.example,port=6379,state=wait_bgsave",
			ReplicaEntry{Addr: Addr{"replica-1.example", 6379}, State: "wait_bgsave", Lag: -1}, true},
		{"port=6379,ip=10.0.0.1,future=field,state=online,offset=9,lag=3",
			ReplicaEntry{Addr: Addr{"10.0.0.1", 6379}, State: "online", Offset: 9, Lag: 3}, true},
		{"ip=10.0.0.1,port=6379,state=online,offset=9,lag=0,type=replica",
			ReplicaEntry{Addr: Addr{"10.0.0.1", 6379}, State: "online", Offset: 9, Lag: 0, Type: "replica"}, true},
		{"127.0.0.1,6380,online",
			ReplicaEntry{Addr: Addr{"127.0.0.1", 6380}, State: "online", Lag: -1}, true},
		{"::1,6380,online",
			ReplicaEntry{Addr: Addr{"::1", 6380}, State: "online", Lag: -1}, true},
		{"127.0.0.1,6380,online,extra",
			ReplicaEntry{Addr: Addr{"127.0.0.1", 6380}, State: "online", Lag: -1}, true},

		{"", ReplicaEntry{}, false},
		{"ip=127.0.0.1", ReplicaEntry{}, false},
		{"port=6379", ReplicaEntry{}, false},
		{"ip=,port=6379", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=0,state=online", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=65536,state=online", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=-1,state=online", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=6379,offset=abc", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=6379,lag=", ReplicaEntry{}, false},
		{"ip=127.0.0.1,port=6379,offset=99999999999999999999", ReplicaEntry{}, false},
		{"127.0.0.1,6380", ReplicaEntry{}, false},
		{"127.0.0.1,x,online", ReplicaEntry{}, false},
		{",6380,online", ReplicaEntry{}, false},
	}
	for _, tt := range tests {
		got, ok := parseReplicaLine(tt.value)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseReplicaLine(%q) = %+v, %v; want %+v, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsReplicaKey(t *testing.T) {
	for key, want := range map[string]bool{
		"slave0":            true,
		"slave12":           true,
		"slave":             false,
		"slave_repl_offset": false,
		"slave_priority":    false,
		"slave1x":           false,
		"slaves":            false,
		"master0":           false,
		"replica0":          false,
	} {
		if got := isReplicaKey(key); got != want {
			t.Errorf("isReplicaKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestInfoReplicaOf(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want Addr
		ok   bool
	}{
		{"replica", Info{Role: RoleReplica, MasterHost: "10.0.0.1", MasterPort: 6379}, Addr{"10.0.0.1", 6379}, true},
		{"ipv6 replica", Info{Role: RoleReplica, MasterHost: "::1", MasterPort: 6379}, Addr{"::1", 6379}, true},
		{"master", Info{Role: RoleMaster, MasterHost: "10.0.0.1", MasterPort: 6379}, Addr{}, false},
		{"sentinel", Info{Role: RoleSentinel}, Addr{}, false},
		{"no host", Info{Role: RoleReplica, MasterPort: 6379}, Addr{}, false},
		{"no port", Info{Role: RoleReplica, MasterHost: "10.0.0.1"}, Addr{}, false},
		{"bad port", Info{Role: RoleReplica, MasterHost: "10.0.0.1", MasterPort: 70000}, Addr{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.info.ReplicaOf()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ReplicaOf() = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInfoReplicaOfFixture(t *testing.T) {
	info, err := ParseInfo(string(readTestdata(t, "redis-7.0.15-ipv6-replica-info.txt")))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := info.ReplicaOf()
	if !ok || got.String() != "[::1]:56545" {
		t.Errorf("ReplicaOf() = %v, %v; want [::1]:56545, true", got, ok)
	}
}
