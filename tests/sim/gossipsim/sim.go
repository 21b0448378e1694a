// Package gossipsim is a deterministic simulator for the gossip core alone: up to thousands of
// SWIM + Lifeguard members (gossip/) on one thread, a virtual clock, and a network with latency,
// jitter, loss and partitions, with a member that crashes and a member that pauses. It measures
// what the SWIM paper (Das, Gupta, Motivala 2002, §5) and the Lifeguard paper (Dadgar, Phillips,
// Currey 2018, §5) measure: detection time, dissemination time, messages per member per second,
// and false positives, and it checks that views converge once faults heal.
//
// Everything follows from Options.Seed: one *rand.Rand draws the network's choices and seeds each
// member's own. The same Options give the same Result, field for field.
//
// Files: sim.go (this one: options, the run loop, the network), observe.go (what each member
// believes, the measurements and the checkers), queue.go (the event queue).
package gossipsim

import (
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
)

// Options describe one run. Start from DefaultOptions: the zero value of several fields means
// "off" (no loss, no pause, no partition), not "default".
type Options struct {
	Seed    int64
	Members int
	// Duration is the simulated length of the whole run.
	Duration time.Duration

	// Latency is the one-way delay of every message; Jitter adds a delay drawn uniformly from
	// [0, Jitter), which reorders messages.
	Latency, Jitter time.Duration
	// Loss is the chance that any one message is dropped, while faults last.
	Loss float64

	// CrashAt is when the crash victim (the last member) stops without leaving; negative: never.
	CrashAt time.Duration

	// Pause freezes one member (the middle one) for PauseFor in every PauseEvery while faults
	// last. A paused member neither ticks nor reads; on resuming it first runs the ticks it
	// missed, then reads the messages that waited for it, as a timer-driven shell does after a
	// stop-the-world pause.
	Pause                bool
	PauseFor, PauseEvery time.Duration

	// Partition cuts the first Partition members off from the rest, both ways, from PartitionAt
	// until faults end; 0: no partition.
	Partition   int
	PartitionAt time.Duration

	// FaultsEnd is when the partition heals, loss stops and pauses end; the rest of the run is the
	// liveness phase, at whose end every live member's view must be the true membership.
	FaultsEnd time.Duration

	// Warmup is when message counting starts: members begin knowing each other, and the news of
	// that start takes a while to drain from their broadcast queues.
	Warmup time.Duration

	// StaleDeadBound is how long a live, reachable member may stay dead in another's view.
	StaleDeadBound time.Duration

	// Lifeguard switches all four Lifeguard parts on or off (LHA-Probe, nacks, LHA-Suspicion,
	// buddy system).
	Lifeguard bool
	// Tune, if set, changes each member's config after the settings above.
	Tune func(*gossip.Config)
}

// DefaultOptions returns a run of n members for the given seed: 300 simulated seconds, a crash at
// 60 s, a LAN network (1 ms plus up to 2 ms jitter), Lifeguard on, faults healed 90 s before the
// end, and messages counted from 120 s, once the news of the start and of the crash has drained
// from every broadcast queue even at N = 1000.
func DefaultOptions(n int, seed int64) Options {
	return Options{
		Seed:           seed,
		Members:        n,
		Duration:       300 * time.Second,
		Latency:        time.Millisecond,
		Jitter:         2 * time.Millisecond,
		CrashAt:        60 * time.Second,
		PauseFor:       6 * time.Second,
		PauseEvery:     8 * time.Second,
		PartitionAt:    60 * time.Second,
		FaultsEnd:      210 * time.Second,
		Warmup:         120 * time.Second,
		StaleDeadBound: 60 * time.Second,
		Lifeguard:      true,
	}
}

func (o Options) validate() error {
	switch {
	case o.Members < 2:
		return fmt.Errorf("gossip sim: %d members; run at least 2", o.Members)
	case o.Duration <= 0 || o.FaultsEnd > o.Duration:
		return fmt.Errorf("gossip sim: duration %v must be positive and not before faults end (%v)", o.Duration, o.FaultsEnd)
	case o.Loss < 0 || o.Loss >= 1:
		return fmt.Errorf("gossip sim: loss %v must be in [0, 1)", o.Loss)
	case o.Latency < 0 || o.Jitter < 0:
		return errors.New("gossip sim: latency and jitter must not be negative")
	case o.Pause && (o.PauseFor <= 0 || o.PauseEvery <= o.PauseFor):
		return fmt.Errorf("gossip sim: pause %v in every %v; the pause must be positive and shorter than its period", o.PauseFor, o.PauseEvery)
	case o.Partition < 0 || o.Partition >= o.Members:
		return fmt.Errorf("gossip sim: partition of %d members out of %d; cut off at least one and leave at least one", o.Partition, o.Members)
	case o.Pause && o.Members < 3 && o.CrashAt >= 0:
		return errors.New("gossip sim: a paused member and a crashed one need at least 3 members")
	}
	return nil
}

// simMember is one member and what the simulated shell keeps about it.
type simMember struct {
	id      string
	node    *gossip.Node
	crashed bool
	paused  bool
	missed  int              // ticks missed while paused
	mailbox []gossip.Message // messages that arrived while paused, in arrival order
}

// simulation is the state of one run.
type simulation struct {
	opts    Options
	q       queue
	rng     *rand.Rand // the network's draws
	members []*simMember
	byAddr  map[string]int32
	tick    time.Duration // the members' TickInterval
	period  time.Duration // the members' ProbeInterval

	lossOn      bool
	partitioned bool
	side        []bool // side[i]: member i is in the cut-off group
	victim      int    // crashed member, or -1
	pausedOne   int    // paused member, or -1

	obs *observer
}

// Run simulates one run and returns its measurements and any violations of the checkers.
func Run(opts Options) (*Result, error) {
	s, err := newSimulation(opts)
	if err != nil {
		return nil, err
	}
	s.schedule()
	events := 0
	for {
		e, ok := s.q.pop(opts.Duration)
		if !ok {
			break
		}
		events++
		s.run(e)
	}
	return s.obs.result(events), nil
}

// newSimulation sets up a run: members started, observer ready, nothing scheduled yet.
func newSimulation(opts Options) (*simulation, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &simulation{
		opts:      opts,
		rng:       rand.New(rand.NewSource(opts.Seed)),
		byAddr:    map[string]int32{},
		side:      make([]bool, opts.Members),
		victim:    -1,
		pausedOne: -1,
		lossOn:    opts.Loss > 0,
	}
	if opts.CrashAt >= 0 && opts.CrashAt < opts.Duration {
		s.victim = opts.Members - 1
	}
	if opts.Pause {
		s.pausedOne = opts.Members / 2
	}
	for i := range opts.Partition {
		s.side[i] = true
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	s.obs = newObserver(s)
	return s, nil
}

// start creates the members, each already knowing all the others, as after a push-pull with a
// member that knew everyone: joining a thousand members one by one is not what is measured.
func (s *simulation) start() error {
	n := s.opts.Members
	table := make([]gossip.Member, n)
	for i := range n {
		id := fmt.Sprintf("m%04d", i)
		cfg := gossip.DefaultLANConfig(id, "addr-"+id)
		cfg.Rand = rand.New(rand.NewSource(s.rng.Int63()))
		if !s.opts.Lifeguard {
			cfg.LocalHealth, cfg.Nack, cfg.DynamicSuspicion, cfg.BuddySystem = false, false, false, false
		}
		if s.opts.Tune != nil {
			s.opts.Tune(&cfg)
		}
		node, err := gossip.New(cfg)
		if err != nil {
			return fmt.Errorf("gossip sim: member %d: %w", i, err)
		}
		s.tick, s.period = cfg.TickInterval, cfg.ProbeInterval
		s.members = append(s.members, &simMember{id: id, node: node})
		s.byAddr[cfg.Addr] = int32(i)
		table[i] = gossip.Member{ID: id, Addr: cfg.Addr, State: gossip.StateAlive}
	}
	for i, m := range s.members {
		from := s.members[(i+1)%n]
		err := m.node.Step(gossip.Message{
			Type: gossip.MsgPushPullReply, From: from.id, FromAddr: "addr-" + from.id,
			To: "addr-" + m.id, ToID: m.id, State: table,
		})
		if err != nil {
			return fmt.Errorf("gossip sim: start member %s: %w", m.id, err)
		}
		m.node.Outbox()
		m.node.Events()
	}
	return nil
}

// schedule queues each member's first tick, at a random phase (real shells' tickers are not
// aligned), and the faults.
func (s *simulation) schedule() {
	for i := range s.members {
		phase := time.Duration(s.rng.Int63n(int64(s.tick)))
		s.q.push(event{at: phase, kind: evTick, member: int32(i)})
	}
	if s.victim >= 0 {
		s.q.push(event{at: s.opts.CrashAt, kind: evCrash, member: int32(s.victim)})
	}
	if s.pausedOne >= 0 {
		for t := s.opts.PauseEvery - s.opts.PauseFor; t < s.opts.FaultsEnd; t += s.opts.PauseEvery {
			s.q.push(event{at: t, kind: evPauseStart, member: int32(s.pausedOne)})
			s.q.push(event{at: min(t+s.opts.PauseFor, s.opts.FaultsEnd), kind: evPauseEnd, member: int32(s.pausedOne)})
		}
	}
	if s.opts.Partition > 0 && s.opts.PartitionAt < s.opts.FaultsEnd {
		s.q.push(event{at: s.opts.PartitionAt, kind: evPartition})
	}
	s.q.push(event{at: s.opts.FaultsEnd, kind: evHeal})
	s.q.push(event{at: s.period, kind: evCheck})
}

// run carries out one event.
func (s *simulation) run(e event) {
	m := s.members[e.member] // member 0 for the cluster-wide events, which do not use it
	switch e.kind {
	case evTick:
		s.q.push(event{at: s.q.now + s.tick, kind: evTick, member: e.member})
		switch {
		case m.crashed:
		case m.paused:
			m.missed++
		default:
			m.node.Tick()
			s.collect(int(e.member))
		}
	case evDeliver:
		switch {
		case m.crashed || s.cut(s.byAddr[e.msg.FromAddr], e.member):
			// A partition that started while the message was in flight stops it too.
		case m.paused:
			m.mailbox = append(m.mailbox, *e.msg)
		default:
			s.step(int(e.member), *e.msg)
		}
	case evCrash:
		m.crashed = true
		s.obs.crash(int(e.member))
	case evPauseStart:
		m.paused = true
	case evPauseEnd:
		s.resume(int(e.member))
	case evPartition:
		s.partitioned = true
	case evHeal:
		s.partitioned, s.lossOn = false, false
		s.obs.healed()
	case evCheck:
		s.obs.check()
		s.q.push(event{at: s.q.now + s.period, kind: evCheck})
	}
}

// resume ends a pause: the member runs the ticks it missed, then reads its mail.
func (s *simulation) resume(i int) {
	m := s.members[i]
	if !m.paused {
		return
	}
	m.paused = false
	for range m.missed {
		m.node.Tick()
		s.collect(i)
	}
	m.missed = 0
	mail := m.mailbox
	m.mailbox = nil
	for _, msg := range mail {
		s.step(i, msg)
	}
}

func (s *simulation) step(i int, msg gossip.Message) {
	// The core rejects only messages of unknown type, which no core sends.
	if err := s.members[i].node.Step(msg); err != nil {
		panic(fmt.Sprintf("gossip sim: member %s refused a message from a core: %v", s.members[i].id, err))
	}
	s.collect(i)
}

// cut reports whether the partition stops messages between members a and b.
func (s *simulation) cut(a, b int32) bool {
	return s.partitioned && s.side[a] != s.side[b]
}

// collect takes member i's events and messages, and puts each message on the network. The
// network draws loss and delay for every message in the same order whatever its fate, so one
// message's fate never shifts the random stream of the next.
func (s *simulation) collect(i int) {
	m := s.members[i]
	s.obs.events(i, m.node.Events())
	for _, msg := range m.node.Outbox() {
		s.obs.countSent(msg.Type)
		lost := s.rng.Float64() < s.opts.Loss
		delay := s.opts.Latency
		if s.opts.Jitter > 0 {
			delay += time.Duration(s.rng.Int63n(int64(s.opts.Jitter)))
		}
		to, ok := s.byAddr[msg.To]
		if !ok || s.cut(int32(i), to) || (lost && s.lossOn) {
			continue
		}
		s.q.push(event{at: s.q.now + delay, kind: evDeliver, member: to, msg: &msg})
	}
}
