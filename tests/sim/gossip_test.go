// Tests of gossip beside Raft: the failure detector of SWIM (§3.1, §4.2) with Lifeguard sees the
// simulator's faults (partition, pause, crash) as it should, gossip leaves Raft's run untouched,
// and the gossip-convergence checker catches views that stay wrong once every fault heals.

package sim

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/gossip"
)

// gossipSim builds a run with no random faults, only what the test scripts, keeping its events.
// With 15 s of simulated time the safety phase ends at 10 s.
func gossipSim(t *testing.T) *sim {
	t.Helper()
	opts := Options{Seed: 7, Nodes: 5, Duration: 15 * time.Second, KeepEvents: true}.withDefaults()
	bug, err := lookupBug("")
	require.NoError(t, err)
	s := newSim(opts, bug, map[string]bool{})
	s.mix = FaultMix{}
	s.net.cfg = s.mix.net()
	require.Equal(t, 10*time.Second, s.safetyEnd)
	return s
}

// gossipSaw reports whether node observer's gossip reported what (e.g. "failed n3") between from
// and to.
func gossipSaw(s *sim, observer uint64, what string, from, to time.Duration) bool {
	for _, e := range s.trace.events {
		if e.Kind == EventGossip && e.Node == observer && e.At >= from && e.At < to && strings.HasPrefix(e.Detail, what+" ") {
			return true
		}
	}
	return false
}

// viewOf is what node observer's gossip core believes about member id now.
func viewOf(t *testing.T, s *sim, observer, id uint64) gossip.Member {
	t.Helper()
	require.NotNil(t, s.nodes[observer].g, "node %d runs no gossip core", observer)
	m, ok := s.nodes[observer].g.Member(gossipID(id))
	require.True(t, ok, "node %d does not know member %d", observer, id)
	return m
}

func TestIsolatedNodeIsDeclaredFailedAndBothSidesMeetAgainAfterTheHeal(t *testing.T) {
	s := gossipSim(t)
	s.q.at(time.Second, func() {
		s.net.apply(isolatePartition(3, s.ids))
		s.faultChanged(false)
	})
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations)

	// The isolated node blames the others more slowly: no nack comes back, so Lifeguard's Local
	// Health Multiplier stretches its probes, and nobody confirms its suspicions, so they last
	// the longest timeout. It still declares some of them failed within the nine seconds.
	isolatedDeclared := false
	for _, id := range without(s.ids, 3) {
		require.True(t, gossipSaw(s, id, "failed n3", time.Second, s.safetyEnd), "node %d never declared the isolated node failed", id)
		isolatedDeclared = isolatedDeclared || gossipSaw(s, 3, fmt.Sprintf("failed n%d", id), time.Second, s.safetyEnd)
		// The majority declared node 3 dead, so it neither probes nor gossips to it: only
		// push-pull, whose partner may be a dead member, brings them back (docs/gossip.md).
		require.True(t, gossipSaw(s, id, "recovered n3", s.safetyEnd, s.opts.Duration), "node %d never saw node 3 alive again", id)
		require.Equal(t, gossip.StateAlive, viewOf(t, s, id, 3).State)
		require.Equal(t, gossip.StateAlive, viewOf(t, s, 3, id).State)
	}
	require.True(t, isolatedDeclared, "the isolated node declared none of the others failed")
	require.GreaterOrEqual(t, s.gossipAt, time.Duration(0), "the views converged after the heal")
	require.LessOrEqual(t, s.gossipAt, s.gossipBound())
}

func TestPausedNodeIsSuspectedAndRefutesWhenItResumes(t *testing.T) {
	s := gossipSim(t)
	pauseAt, pauseFor := time.Second, 1500*time.Millisecond
	s.q.at(pauseAt, func() {
		s.nodes[2].pause(pauseFor)
		s.faultChanged(true)
	})
	resumed := pauseAt + pauseFor
	s.q.at(resumed+time.Second, func() {
		for _, id := range without(s.ids, 2) {
			m := viewOf(t, s, id, 2)
			require.Equal(t, gossip.StateAlive, m.State, "node %d still doubts node 2 a second after it resumed", id)
			require.Positive(t, m.Incarnation, "node 2 refuted by raising its incarnation (SWIM §4.2)")
		}
	})
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations)

	suspected, recovered := false, false
	for _, id := range without(s.ids, 2) {
		suspected = suspected || gossipSaw(s, id, "suspect n2", pauseAt, resumed)
		recovered = recovered || gossipSaw(s, id, "recovered n2", resumed, resumed+time.Second)
	}
	require.True(t, suspected, "nobody suspected the paused node")
	require.True(t, recovered, "nobody saw the paused node refute")
}

func TestRestartedNodeRejoinsGossipThroughTheOthers(t *testing.T) {
	s := gossipSim(t)
	crashAt, restartAt := time.Second, 4*time.Second
	s.q.at(crashAt, func() {
		s.nodes[4].crash()
		s.faultChanged(true)
	})
	var before uint64
	s.q.at(restartAt, func() {
		before = viewOf(t, s, 1, 4).Incarnation
		s.nodes[4].restart()
		s.faultChanged(true)
	})
	s.q.at(restartAt+time.Second, func() {
		for _, id := range s.ids {
			for _, other := range s.ids {
				require.Equal(t, gossip.StateAlive, viewOf(t, s, id, other).State, "node %d's view of %d a second after node 4 restarted", id, other)
			}
		}
		require.Greater(t, viewOf(t, s, 1, 4).Incarnation, before, "the new life outranks the old one")
	})
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations)

	// The join is a push-pull with every address the node knows: one round trip, a few
	// milliseconds, not the next push-pull period of the others.
	joined := restartAt + 50*time.Millisecond
	for _, id := range without(s.ids, 4) {
		require.True(t, gossipSaw(s, id, "failed n4", crashAt, restartAt), "node %d never declared the crashed node failed", id)
		require.True(t, gossipSaw(s, id, "recovered n4", restartAt, joined), "node %d did not see node 4 back at once", id)
		require.True(t, gossipSaw(s, 4, fmt.Sprintf("joined n%d", id), restartAt, joined), "the restarted node did not meet node %d at once", id)
	}
}

func TestGossipBesideRaftLeavesRaftsEventsUnchanged(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		with, err := Execute(Options{Seed: seed, Nodes: 5, Duration: 10 * time.Second, KeepEvents: true})
		require.NoError(t, err)
		without, err := Execute(Options{Seed: seed, Nodes: 5, Duration: 10 * time.Second, KeepEvents: true, NoGossip: true})
		require.NoError(t, err)
		require.Empty(t, with.Violations, "seed %d", seed)
		require.Positive(t, with.GossipMsgs)

		var raftOnly []Event
		gossipEvents := 0
		for _, e := range with.Events {
			if e.Kind == EventGossip {
				gossipEvents++
				continue
			}
			raftOnly = append(raftOnly, e)
		}
		require.Positive(t, gossipEvents, "seed %d traced no gossip event", seed)
		require.Equal(t, without.Events, raftOnly, "seed %d: gossip changed what Raft did", seed)
		require.NotEqual(t, without.TraceHash, with.TraceHash)
	}
}

func TestNoGossipRunsRaftAlone(t *testing.T) {
	r, err := Execute(Options{Seed: 3, Nodes: 3, Duration: 8 * time.Second, KeepEvents: true, NoGossip: true})
	require.NoError(t, err)
	require.Empty(t, r.Violations)
	require.Zero(t, r.GossipMsgs)
	require.Equal(t, time.Duration(-1), r.GossipConverged)
	for _, e := range r.Events {
		require.NotEqual(t, EventGossip, e.Kind, "%s", e)
	}
}

// impostor replaces node id's gossip core by one with another name at the same address: a
// misconfigured restart. It drops every message meant for id, so the others declare id dead
// while the node runs, and it never refutes.
func impostor(t *testing.T, s *sim, id uint64) {
	cfg := s.gossipConfig(id, rand.New(rand.NewSource(1)))
	cfg.ID = "impostor"
	g, err := gossip.New(cfg)
	require.NoError(t, err)
	s.nodes[id].g = g
}

func TestGossipConvergenceCatchesAMemberThatStaysDeadAfterHealing(t *testing.T) {
	s := gossipSim(t)
	// Planted during the safety phase, so that the views are already wrong when it ends.
	s.q.at(s.safetyEnd-2*time.Second, func() { impostor(t, s, 3) })
	require.NoError(t, s.run())

	require.NotEmpty(t, s.check.violations, "the checker did not fire")
	v := s.check.violations[0]
	require.Equal(t, CheckGossipConvergence, v.Checker, "%s", v)
	require.Contains(t, v.Detail, "member 3")
	require.LessOrEqual(t, v.At, s.safetyEnd+s.gossipBound()+5*s.opts.Tick, "reported once the bound passed")
	require.Greater(t, v.At, s.safetyEnd+s.gossipBound(), "not before the bound")
	require.Equal(t, time.Duration(-1), s.gossipAt)
}

func TestGossipConvergenceCatchesViewsThatDivergeAfterConverging(t *testing.T) {
	s := gossipSim(t)
	require.NoError(t, s.run())
	require.Empty(t, s.check.violations, "the control: a clean run stays converged")
	require.GreaterOrEqual(t, s.gossipAt, time.Duration(0))

	// Forged news: node 4 says node 3 is dead, at an incarnation node 3 never reached. Node 1,
	// which holds node 3 alive, takes it as a suspicion (gossip's Node.applyPiggybacked).
	n1 := s.nodes[1]
	dead := viewOf(t, s, 1, 3)
	dead.State, dead.Incarnation = gossip.StateDead, dead.Incarnation+100
	n1.stepGossip(gossip.Message{Type: gossip.MsgGossip, From: gossipID(4), FromAddr: gossipAddr(4), To: gossipAddr(1), ToID: gossipID(1),
		Updates: []gossip.Update{{Member: dead, From: gossipID(4)}}})
	require.Equal(t, gossip.StateSuspect, viewOf(t, s, 1, 3).State)

	s.checkGossipAtEnd()
	require.Len(t, s.check.violations, 1)
	v := s.check.violations[0]
	require.Equal(t, CheckGossipConvergence, v.Checker)
	require.Equal(t, uint64(1), v.Node)
	require.Contains(t, v.Detail, "member 3 suspect")
}
