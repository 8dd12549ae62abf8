package sentinel

import (
	"github.com/vigil-ha/vigil/config"
)

// unknownLeader records a vote whose candidate is not known: Sentinel saves
// the epoch it last voted in (leader-epoch) but not for whom.
const unknownLeader = "?"

// SeedFromSentinel initialises the durable state in cfg.Node.DataDir from
// what a redis-sentinel recorded in its sentinel.conf (epochs, the vote
// epoch, known replicas and sentinels), so that a node taking over from a
// Sentinel keeps its promises: it never votes again in an epoch Sentinel
// voted in, and counts the same voters. It does nothing when the data dir
// already holds state: vigil's own record is newer.
func SeedFromSentinel(cfg config.Config, s *config.SentinelState) (seeded bool, err error) {
	st, err := openStore(cfg.Node.DataDir)
	if err != nil {
		return false, err
	}
	state, err := st.load()
	if err != nil {
		return false, err
	}
	if state.NodeID != "" || s == nil {
		return false, nil
	}
	state.NodeID = cfg.Node.ID
	state.CurrentEpoch = s.CurrentEpoch
	for name, ms := range s.Masters {
		mc, ok := cfg.Masters[name]
		if !ok {
			continue
		}
		rec := &MasterRecord{ConfiguredAddr: mc.Addr.String(), Addr: mc.Addr.String(), ConfigEpoch: ms.ConfigEpoch}
		if ms.LeaderEpoch > 0 {
			rec.LeaderEpoch, rec.Leader = ms.LeaderEpoch, unknownLeader
		}
		rec.KnownReplicas = append(rec.KnownReplicas, ms.KnownReplicas...)
		for _, ks := range ms.KnownSentinels {
			rec.KnownPeers = append(rec.KnownPeers, PeerRecord{ID: ks.ID, Addr: ks.Addr})
		}
		state.Masters[name] = rec
	}
	if state.NodeID == "" {
		if state.NodeID, err = newNodeID(); err != nil {
			return false, err
		}
	}
	return true, st.save(state)
}
