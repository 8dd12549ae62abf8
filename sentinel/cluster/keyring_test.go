package cluster

import (
	"bytes"
	"testing"
)

// TestKeyringRotation follows the rotation procedure: every node first
// learns the new key as a secondary (step 1), then makes it primary (step
// 2), then drops the old one (step 3). Nodes one step apart talk; a node
// holding only a key the others never learnt is refused.
func TestKeyringRotation(t *testing.T) {
	oldKey := bytes.Repeat([]byte{1}, 32)
	newKey := bytes.Repeat([]byte{2}, 16)
	otherKey := bytes.Repeat([]byte{3}, 24)

	for _, tc := range []struct {
		name         string
		first, later [][]byte
	}{
		{"steps 1 and 2", [][]byte{oldKey, newKey}, [][]byte{newKey, oldKey}},
		{"steps 2 and 3", [][]byte{newKey, oldKey}, [][]byte{newKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, withKeys(fastConfig("a"), tc.first...))
			bcfg := withKeys(fastConfig("b"), tc.later...)
			bcfg.Join = []string{a.GossipAddr()}
			b := startNode(t, bcfg)
			waitConverged(t, a, b)

			dcfg := withKeys(fastConfig("d"), otherKey)
			outsider, err := New(dcfg, newRecorder())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = outsider.Shutdown() }()
			if n, err := outsider.Join([]string{b.GossipAddr()}); err == nil || n != 0 {
				t.Errorf("join with an unknown key: %d answered, err %v; want refused", n, err)
			}
			if aliveMembers(b)[dcfg.NodeID] {
				t.Error("b lists d, whose key it does not hold")
			}
		})
	}
}

// TestKeyedNodeRefusesPlainCluster: a node with a key cannot join a
// cluster without one either; encryption is never silently dropped.
func TestKeyedNodeRefusesPlainCluster(t *testing.T) {
	a := startNode(t, fastConfig("a"))
	keyed, err := New(withKeys(fastConfig("b"), bytes.Repeat([]byte{7}, 32)), newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = keyed.Shutdown() }()
	if n, err := keyed.Join([]string{a.GossipAddr()}); err == nil || n != 0 {
		t.Errorf("keyed node joined a plain cluster: %d answered, err %v", n, err)
	}
}

func TestNewRejectsBadKeyring(t *testing.T) {
	cfg := withKeys(fastConfig("a"), bytes.Repeat([]byte{1}, 32), []byte("short"))
	if c, err := New(cfg, newRecorder()); err == nil {
		_ = c.Shutdown()
		t.Fatal("New accepted a 5-byte key in the keyring")
	}
}

func withKeys(cfg Config, keys ...[]byte) Config {
	cfg.SecretKeys = keys
	return cfg
}
