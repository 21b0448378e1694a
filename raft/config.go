// Config: every setting of a Raft core, each default with the reason for its value.
//
// Timing follows the Raft paper §5.6 (broadcastTime ≪ electionTimeout ≪ MTBF) and §9.3 of the
// thesis (randomized election timeouts in [T, 2T)). The teaching switches that turn off one rule of
// the paper are not part of Config: they live in teaching.go.

package raft

import (
	"errors"
	"math/rand"
)

// Config sets up one core.
type Config struct {
	// ID names this server; it must not be None.
	ID uint64

	// Peers is the voting membership when a brand-new cluster is bootstrapped, this server
	// included. It is ignored when Restore holds any state (the configuration comes from the
	// restored snapshot and log). Leave it empty for a server joining an existing cluster (the
	// leader will send it the log).
	Peers []uint64

	// ElectionTick is the election timeout in ticks. Each follower waits a random time in
	// [ElectionTick, 2*ElectionTick) before campaigning (thesis §9.3). Default 10: with a 100 ms
	// tick, one second, comfortably above a loopback or LAN round trip.
	ElectionTick int

	// HeartbeatTick is how often a leader sends heartbeats, in ticks. Default 1: ten heartbeats per
	// election timeout, so several lost in a row still do not start an election.
	HeartbeatTick int

	// Rand draws the randomized election timeouts. Required: the core never reads global
	// randomness, so that one seed replays one run.
	Rand *rand.Rand

	// Restore is the state read back from stable storage at start-up; nil for a new server.
	Restore *Restored

	// PreVote makes a server ask whether it could win before it raises its term (thesis §9.6), so
	// a server cut off and rejoining does not depose a healthy leader. Default on in DefaultConfig.
	PreVote bool

	// CheckQuorum makes a leader step down when it has not heard from a majority within an election
	// timeout, and makes followers ignore vote requests while they hear from a leader (thesis §6.2,
	// §9.6). Default on in DefaultConfig.
	CheckQuorum bool

	// MaxInflight bounds the appends a leader has sent to one follower and not yet heard back about
	// (pipelining). Default 256: enough to keep a fast link busy, small enough that a slow follower
	// does not make the leader buffer without end.
	MaxInflight int

	// MaxSizePerMsg bounds the bytes of entry data in one MsgApp (batching). Default 1 MiB.
	MaxSizePerMsg uint64

	// SnapshotChunkSize bounds the bytes of snapshot data in one MsgSnap. Default 512 KiB.
	SnapshotChunkSize uint64

	// bugs are the teaching switches, set only through WithTeachingBugs (teaching.go).
	bugs TeachingBugs
}

// Restored is what a restarting server read from its stable storage.
type Restored struct {
	HardState HardState
	Snapshot  *Snapshot // may be nil
	Entries   []Entry   // the log after the snapshot, in order
	Applied   uint64    // the last index the state machine already holds (at least the snapshot's)

	// Lost, when not nil, says storage found that state this server had acknowledged is gone (a
	// log shorter than its promise mark, a damaged last record, a missing segment or hard state,
	// a wiped folder). The server then starts recovering (recovery.go) instead of trusting the
	// shortened log. The commit index is clamped to the log it still holds.
	Lost *Lost
}

// Lost names what a server had promised before its storage lost state.
type Lost struct {
	// Index is the highest log index this server acknowledged, and Term the term it held when it
	// did. Index 0 means unknown: the whole record of promises was lost with the folder.
	Index uint64
	Term  uint64
}

// DefaultConfig returns a Config with every default set; the caller sets ID, Rand and, for a new
// cluster, Peers.
func DefaultConfig() Config {
	return Config{
		ElectionTick:      10,
		HeartbeatTick:     1,
		PreVote:           true,
		CheckQuorum:       true,
		MaxInflight:       256,
		MaxSizePerMsg:     1 << 20,
		SnapshotChunkSize: 512 << 10,
	}
}

// validate fills unset limits with their defaults and rejects what cannot work.
func (c *Config) validate() error {
	if c.ID == None {
		return errors.New("raft: config: ID must not be 0")
	}
	if c.Rand == nil {
		return errors.New("raft: config: Rand is required (the core draws no global randomness)")
	}
	d := DefaultConfig()
	if c.ElectionTick == 0 {
		c.ElectionTick = d.ElectionTick
	}
	if c.HeartbeatTick == 0 {
		c.HeartbeatTick = d.HeartbeatTick
	}
	if c.HeartbeatTick >= c.ElectionTick {
		return errors.New("raft: config: HeartbeatTick must be smaller than ElectionTick")
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = d.MaxInflight
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = d.MaxSizePerMsg
	}
	if c.SnapshotChunkSize == 0 {
		c.SnapshotChunkSize = d.SnapshotChunkSize
	}
	return nil
}
