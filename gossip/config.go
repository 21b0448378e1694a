// Config: every setting of a gossip core, each default with the reason for its value.
//
// The defaults are those of hashicorp/memberlist's DefaultLANConfig, which were tuned for the
// SWIM paper (Das, Gupta, Motivala 2002, §3 and §4) and the Lifeguard paper (Dadgar, Phillips,
// Currey 2018: LHA-Probe, LHA-Suspicion, Buddy System) on a local network. Times are given as
// durations so they read like the papers; New converts each one into a whole number of ticks of
// TickInterval, since the core only counts ticks.

package gossip

import (
	"errors"
	"fmt"
	"math/rand"
	"time"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("invalid gossip config")

// Config sets up one gossip core.
type Config struct {
	// ID names this member; it must be unique in the cluster and never empty.
	ID string

	// Addr is where other members send messages for this one (host:port for the real shell, any
	// opaque string for the simulator).
	Addr string

	// Meta is what this member tells the others about itself (its Raft address, tags).
	Meta Meta

	// Rand drives every random choice: probe order, ping-req relays, gossip and push-pull
	// partners. Required: the core never reads global randomness, so one seed replays one run.
	Rand *rand.Rand

	// TickInterval is the wall-clock length of one Tick. Default 100ms: the finest timing below is
	// ProbeTimeout/5 of it, and a shell waking ten times a second costs nothing.
	TickInterval time.Duration

	// ProbeInterval is SWIM's protocol period T' (§3.1): one member is probed per period.
	// Default 1s: failure detection within a few seconds on a LAN at a cost of one ping per
	// member per second.
	ProbeInterval time.Duration

	// ProbeTimeout is how long a direct ping may take before ping-reqs go out (§3.1). Default
	// 500ms: far above a LAN round trip, and it leaves half the period for the indirect probe.
	ProbeTimeout time.Duration

	// IndirectChecks is SWIM's k (§3.1): how many members are asked to ping-req a target that
	// did not answer. Default 3: the chance that all k paths fail falls exponentially with k,
	// and three keeps the message cost per failed probe small.
	IndirectChecks int

	// SuspicionMult scales the suspicion timeout (§4.2): the minimum timeout is
	// SuspicionMult * max(1, log10(N)) * ProbeInterval. Default 4: long enough for a refutation to
	// spread by gossip (which takes O(log N) periods) before anyone is declared dead.
	SuspicionMult int

	// SuspicionMaxTimeoutMult is Lifeguard's ratio of the maximum to the minimum suspicion timeout
	// (Lifeguard LHA-Suspicion). Default 6: a suspicion nobody confirms lasts six times the
	// minimum, which gives a slow but live member a long window to refute.
	SuspicionMaxTimeoutMult int

	// RetransmitMult sets how many times each update is piggybacked:
	// RetransmitMult * ceil(log10(N+1)). Default 4: SWIM §4.1 shows λ·log N transmissions reach
	// every member with high probability; four gives margin for lost packets.
	RetransmitMult int

	// GossipInterval is how often queued updates are sent on their own, besides riding on
	// probes. Default 200ms: five times faster than probing, so news spreads in well under a
	// second on a LAN without waiting for the next ping.
	GossipInterval time.Duration

	// GossipNodes is how many random members receive each gossip message. Default 3: the fan-out
	// of an epidemic; with three, the infected set grows fast enough that log(N) rounds suffice.
	GossipNodes int

	// PushPullInterval is how often this member swaps its whole membership table with a random
	// member (anti-entropy). Default 30s: a backstop for updates gossip lost, and the way two
	// sides of a healed partition meet again; the full exchange is too costly to do often.
	PushPullInterval time.Duration

	// AwarenessMaxMultiplier bounds Lifeguard's Local Health Multiplier (Lifeguard LHA-Probe): the
	// score runs from 0 to AwarenessMaxMultiplier-1, and probe interval and timeout are multiplied
	// by score+1. Default 8: a member that thinks itself slow waits up to eight times longer
	// before blaming others.
	AwarenessMaxMultiplier int

	// MaxMessageBytes is the size budget for one message carrying piggybacked updates: updates
	// beyond it wait for the next message. Default 1400: what fits in one UDP datagram under a
	// 1500-byte Ethernet MTU (memberlist's UDPBufferSize). Push-pull state exchanges ignore it,
	// as memberlist sends them over TCP.
	MaxMessageBytes int

	// LocalHealth turns on Lifeguard's Local Health Multiplier (Lifeguard LHA-Probe). Default on.
	LocalHealth bool

	// DynamicSuspicion turns on Lifeguard's suspicion timeouts that start at the maximum and shrink
	// with independent confirmations (Lifeguard LHA-Suspicion). Off: every suspicion lasts the
	// minimum timeout, as in plain SWIM. Default on.
	DynamicSuspicion bool

	// BuddySystem makes a ping to a suspected member carry the suspicion, so the member can refute
	// at once (Lifeguard Buddy System). Kanna also runs it the other way: the ack to a member
	// believed suspect, dead or gone carries that belief, and a member told of a suspicion it has
	// already refuted announces itself again, so a member that missed a refutation learns of it
	// at the next ping instead of the next push-pull. Default on.
	BuddySystem bool

	// Nack makes ping-req relays answer with a nack when the target stays silent, so the prober can
	// tell "target is down" from "my own messages are not getting through" (Lifeguard LHA-Probe).
	// Default on.
	Nack bool

	// bugs are the teaching switches, set only through WithTeachingBugs (teaching.go).
	bugs TeachingBugs
}

// DefaultLANConfig returns a Config with the defaults above for the given member. Rand must still
// be set by the caller.
func DefaultLANConfig(id, addr string) Config {
	return Config{
		ID:                      id,
		Addr:                    addr,
		TickInterval:            100 * time.Millisecond,
		ProbeInterval:           time.Second,
		ProbeTimeout:            500 * time.Millisecond,
		IndirectChecks:          3,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 6,
		RetransmitMult:          4,
		GossipInterval:          200 * time.Millisecond,
		GossipNodes:             3,
		PushPullInterval:        30 * time.Second,
		AwarenessMaxMultiplier:  8,
		MaxMessageBytes:         1400,
		LocalHealth:             true,
		DynamicSuspicion:        true,
		BuddySystem:             true,
		Nack:                    true,
	}
}

// ticks holds the config's durations converted to ticks once, in New.
type ticks struct {
	probeInterval int64
	probeTimeout  int64
	// nackTimeout is how long a ping-req relay waits before sending a nack: 80% of the probe
	// timeout, as the Lifeguard paper suggests, so the nack reaches the prober before its probe
	// period ends.
	nackTimeout int64
	gossip      int64
	pushPull    int64
}

// validate checks cfg and converts its durations to ticks.
func (cfg *Config) validate() (ticks, error) {
	bad := func(format string, args ...any) (ticks, error) {
		return ticks{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case cfg.ID == "":
		return bad("ID is empty; give every member a unique name")
	case cfg.Addr == "":
		return bad("Addr of %q is empty; set the address other members reach it at", cfg.ID)
	case cfg.Rand == nil:
		return bad("Rand is nil; pass rand.New(rand.NewSource(seed))")
	case cfg.TickInterval <= 0:
		return bad("TickInterval is %v; it must be positive", cfg.TickInterval)
	case cfg.ProbeTimeout < cfg.TickInterval:
		return bad("ProbeTimeout %v is shorter than one tick (%v); raise it", cfg.ProbeTimeout, cfg.TickInterval)
	case cfg.ProbeTimeout >= cfg.ProbeInterval:
		return bad("ProbeTimeout %v is not below ProbeInterval %v; the indirect probe needs the rest of the period",
			cfg.ProbeTimeout, cfg.ProbeInterval)
	case cfg.GossipInterval <= 0 || cfg.PushPullInterval <= 0:
		return bad("GossipInterval %v and PushPullInterval %v must be positive", cfg.GossipInterval, cfg.PushPullInterval)
	case cfg.IndirectChecks < 0 || cfg.GossipNodes < 0:
		return bad("IndirectChecks %d and GossipNodes %d must not be negative", cfg.IndirectChecks, cfg.GossipNodes)
	case cfg.SuspicionMult < 1 || cfg.SuspicionMaxTimeoutMult < 1 || cfg.RetransmitMult < 1:
		return bad("SuspicionMult %d, SuspicionMaxTimeoutMult %d and RetransmitMult %d must be at least 1",
			cfg.SuspicionMult, cfg.SuspicionMaxTimeoutMult, cfg.RetransmitMult)
	case cfg.AwarenessMaxMultiplier < 1:
		return bad("AwarenessMaxMultiplier %d must be at least 1", cfg.AwarenessMaxMultiplier)
	case cfg.MaxMessageBytes < 256:
		return bad("MaxMessageBytes %d is too small for one message; use at least 256", cfg.MaxMessageBytes)
	}
	toTicks := func(d time.Duration) int64 {
		t := int64((d + cfg.TickInterval - 1) / cfg.TickInterval)
		return max(t, 1)
	}
	t := ticks{
		probeInterval: toTicks(cfg.ProbeInterval),
		probeTimeout:  toTicks(cfg.ProbeTimeout),
		gossip:        toTicks(cfg.GossipInterval),
		pushPull:      toTicks(cfg.PushPullInterval),
	}
	t.nackTimeout = max(t.probeTimeout*8/10, 1)
	if t.probeTimeout >= t.probeInterval {
		return bad("ProbeTimeout %v and ProbeInterval %v round to the same number of %v ticks; use a shorter TickInterval",
			cfg.ProbeTimeout, cfg.ProbeInterval, cfg.TickInterval)
	}
	return t, nil
}
