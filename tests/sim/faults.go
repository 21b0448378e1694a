// Faults: which ones a seed turns on (swarm testing), the schedule that fires them during the
// safety phase, and the healing that starts the liveness phase.
//
// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012) gives each seed its own subset of
// faults and its own rates, instead of every fault at a fixed rate in every run: some bugs only
// show when one fault is frequent and another is absent.

package sim

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/kanna-cluster/kanna/raft"
)

// FaultNames are the faults a run can enable, in the order they are drawn.
var FaultNames = []string{"loss", "dup", "reorder", "partition", "crash", "pause", "drift", "storage"}

// defaultFaults are the faults a run enables when --faults is not given: every one but storage,
// which breaks Raft's own assumption that a disk keeps what it fsynced and is asked for by name
// (storage.go).
var defaultFaults = FaultNames[:len(FaultNames)-1]

// FaultMix is what one seed enabled and how hard.
type FaultMix struct {
	Loss      float64  `json:"loss"`      // probability a message is lost
	Dup       float64  `json:"dup"`       // probability a message arrives twice
	Reorder   bool     `json:"reorder"`   // jittered latency, so messages overtake each other
	Partition bool     `json:"partition"` // partitions of the shapes in Kinds
	Kinds     []string `json:"partition_kinds,omitempty"`
	Crash     bool     `json:"crash"`
	Pause     bool     `json:"pause"`
	Drift     bool     `json:"drift"` // per-node tick periods 0.9x-1.1x
	// Storage damages one node's disk at a time while it is down (storage.go).
	Storage  bool          `json:"storage"`
	Interval time.Duration `json:"interval"` // mean time between two fault actions
	// IsolateLeader is the chance that a node is cut off the moment it becomes leader, before its
	// first entry leaves: it keeps a log whose last term is high but which nobody else holds, the
	// material of Raft paper Figure 8.
	IsolateLeader float64 `json:"isolate_leader"`
	// CrashLeader is the chance that a crash picks the leader rather than any node: leaders that
	// die with entries half replicated make the situations of Raft paper Figure 8.
	CrashLeader float64 `json:"crash_leader"`
	// CrashAfterVote is the chance that a node crashes right after it made a vote durable and
	// sent it, and comes back quickly: the moment a forgotten vote would matter.
	CrashAfterVote float64 `json:"crash_after_vote"`
	// CrashAfterCommit is the chance that a leader crashes right after its commit index moved,
	// before its followers learn of it: the moment a wrongly committed entry would be overwritten.
	CrashAfterCommit float64 `json:"crash_after_commit"`
	// MaxDowntime bounds how long a crashed node stays down in the safety phase.
	MaxDowntime time.Duration `json:"max_downtime"`
	// SnapshotEvery is the engine's compaction period in applied entries; 0 never compacts.
	SnapshotEvery uint64 `json:"snapshot_every"`
	// MemberEvery, with Options.Membership, is the mean time between two joins or leaves; 0 draws
	// them 1 to 4 s apart.
	MemberEvery time.Duration `json:"member_every,omitempty"`
	// MaxSizePerMsg bounds the entry bytes of one append (0: the core's default of 1 MiB); a small
	// bound splits catch-up into many messages.
	MaxSizePerMsg uint64 `json:"max_size_per_msg"`
}

func (m FaultMix) String() string {
	var on []string
	if m.Loss > 0 {
		on = append(on, fmt.Sprintf("loss=%.3f", m.Loss))
	}
	if m.Dup > 0 {
		on = append(on, fmt.Sprintf("dup=%.3f", m.Dup))
	}
	for _, f := range []struct {
		name string
		on   bool
	}{{"reorder", m.Reorder}, {"crash", m.Crash}, {"pause", m.Pause}, {"drift", m.Drift}, {"storage", m.Storage}} {
		if f.on {
			on = append(on, f.name)
		}
	}
	if m.Partition {
		on = append(on, "partition("+strings.Join(m.Kinds, "/")+")", fmt.Sprintf("isolate_leader=%.2f", m.IsolateLeader))
	}
	if len(on) == 0 {
		on = append(on, "none")
	}
	if m.Crash || m.Storage {
		on = append(on, fmt.Sprintf("crash_leader=%.2f,crash_after_vote=%.2f,crash_after_commit=%.2f,max_downtime=%v",
			m.CrashLeader, m.CrashAfterVote, m.CrashAfterCommit, m.MaxDowntime))
	}
	return fmt.Sprintf("%s interval=%v snapshot_every=%d max_size_per_msg=%d", strings.Join(on, ","), m.Interval, m.SnapshotEvery, m.MaxSizePerMsg)
}

// net is the network configuration of the safety phase.
func (m FaultMix) net() netConfig {
	c := netConfig{Latency: 500 * time.Microsecond, Spread: 2 * time.Millisecond, Loss: m.Loss, Dup: m.Dup}
	if m.Reorder {
		c.Jitter = 15 * time.Millisecond
	}
	return c
}

// parseFaults checks a --faults list; nil means the bug's own list, or every fault.
func parseFaults(list []string, bug Bug) (map[string]bool, error) {
	if list == nil {
		list = bug.Faults
	}
	if list == nil {
		list = defaultFaults
	}
	allowed := map[string]bool{}
	for _, f := range list {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, name := range FaultNames {
			known = known || name == f
		}
		if !known {
			return nil, fmt.Errorf("sim: unknown fault %q; choose from %s", f, strings.Join(FaultNames, ","))
		}
		allowed[f] = true
	}
	return allowed, nil
}

// drawMix draws one seed's faults. Every value is drawn whether or not its fault is allowed, so
// allowing one more fault changes only that fault.
func drawMix(rng *rand.Rand, allowed map[string]bool) FaultMix {
	on := func(name string) bool { return rng.Float64() < 0.6 && allowed[name] }
	var m FaultMix
	loss, dup := 0.01+0.2*rng.Float64(), 0.01+0.1*rng.Float64()
	if on("loss") {
		m.Loss = loss
	}
	if on("dup") {
		m.Dup = dup
	}
	m.Reorder = on("reorder")
	m.Partition = on("partition")
	m.Crash = on("crash")
	m.Pause = on("pause")
	m.Drift = on("drift")
	for _, k := range partitionKinds {
		if rng.Intn(2) == 0 {
			m.Kinds = append(m.Kinds, k)
		}
	}
	if len(m.Kinds) == 0 {
		m.Kinds = []string{partitionKinds[rng.Intn(len(partitionKinds))]}
	}
	if !m.Partition {
		m.Kinds = nil
	}
	m.Interval = 200*time.Millisecond + time.Duration(rng.Int63n(int64(2*time.Second)))
	if every := rng.Intn(4); every > 0 {
		m.SnapshotEvery = uint64(8 << every) // 16, 32 or 64
	}
	crashLeader, crashAfterVote, crashAfterCommit := rng.Float64()/2, rng.Float64()/4, rng.Float64()/20
	isolateLeader := rng.Float64() / 5
	if rng.Intn(2) == 0 {
		m.MaxSizePerMsg = 256 // one or two commands per append
	}
	m.MaxDowntime = 100*time.Millisecond + time.Duration(rng.Int63n(int64(3*time.Second)))
	// A seed that drew none of its allowed faults would test nothing but the happy path; let
	// such seeds keep one fault.
	if len(allowed) > 0 && m.Loss == 0 && m.Dup == 0 && !m.Reorder && !m.Partition && !m.Crash && !m.Pause && !m.Drift {
		names := make([]string, 0, len(allowed))
		for name := range allowed {
			names = append(names, name)
		}
		sort.Strings(names)
		switch names[rng.Intn(len(names))] {
		case "loss":
			m.Loss = loss
		case "dup":
			m.Dup = dup
		case "reorder":
			m.Reorder = true
		case "partition":
			m.Partition, m.Kinds = true, append([]string(nil), partitionKinds...)
		case "crash":
			m.Crash = true
		case "pause":
			m.Pause = true
		case "drift":
			m.Drift = true
		case "storage":
			m.Storage = true
		}
	}
	if m.Partition {
		m.IsolateLeader = isolateLeader
	}
	// Drawn last, so that allowing storage faults shifts no other draw of a seed.
	if on("storage") {
		m.Storage = true
	}
	if m.Crash || m.Storage {
		m.CrashLeader, m.CrashAfterVote, m.CrashAfterCommit = crashLeader, crashAfterVote, crashAfterCommit
	} else {
		m.MaxDowntime = 0
	}
	return m
}

// scheduleFaults starts the fault schedule of the safety phase.
func (s *sim) scheduleFaults() {
	if !s.mix.Partition && !s.mix.Crash && !s.mix.Pause && !s.mix.Storage {
		return
	}
	s.q.after(s.faultGap(), s.nextFault)
}

// faultGap draws the time to the next fault action, exponential around the mix's interval.
func (s *sim) faultGap() time.Duration {
	return time.Duration(s.faultRng.ExpFloat64() * float64(s.mix.Interval))
}

// opsEnd is when clients stop starting operations: a third into the liveness phase, leaving the
// rest for every started operation to finish.
func (s *sim) opsEnd() time.Duration { return s.safetyEnd + s.opts.Liveness/3 }

func (s *sim) nextFault() {
	if s.liveness {
		return
	}
	var actions []string
	if s.mix.Partition {
		actions = append(actions, "partition")
	}
	if s.mix.Crash {
		actions = append(actions, "crash")
	}
	if s.mix.Pause {
		actions = append(actions, "pause")
	}
	if s.mix.Storage {
		actions = append(actions, "storage")
	}
	switch actions[s.faultRng.Intn(len(actions))] {
	case "storage":
		s.storageAction()
	case "partition":
		s.partitionAction()
	case "crash":
		s.crashAction()
	case "pause":
		s.pauseAction()
	}
	s.q.after(s.faultGap(), s.nextFault)
}

func (s *sim) partitionAction() {
	healFirst := s.faultRng.Intn(2) == 0
	kind := s.mix.Kinds[s.faultRng.Intn(len(s.mix.Kinds))]
	if s.net.partitioned() || s.flapping {
		s.heal()
		if healFirst {
			return
		}
	}
	if kind == "flap" {
		order := shuffled(s.faultRng, s.ids)
		if len(order) < 2 {
			return
		}
		l := link{order[0], order[1]}
		s.flapping = true
		s.flapGen++
		gen := s.flapGen
		until := s.q.now + time.Second + time.Duration(s.faultRng.Int63n(int64(2*time.Second)))
		s.emit(Event{Kind: EventPartition, Detail: fmt.Sprintf("flap %d<->%d until %.3fs", l.from, l.to, until.Seconds())})
		s.flap(l, gen, until)
		return
	}
	p := randomPartition(kind, s.faultRng, s.ids)
	s.net.apply(p)
	s.emit(Event{Kind: EventPartition, Detail: p.kind + " " + p.desc})
	s.faultChanged(false)
}

// maybeIsolateLeader sometimes cuts a new leader off before its first entry leaves, and heals
// the cut a while later.
func (s *sim) maybeIsolateLeader(n *node) {
	if s.liveness || s.mix.IsolateLeader == 0 || s.faultRng.Float64() >= s.mix.IsolateLeader {
		return
	}
	s.heal()
	p := isolatePartition(n.id, s.ids)
	s.net.apply(p)
	s.emit(Event{Kind: EventPartition, Detail: "isolate new leader " + p.desc})
	s.faultChanged(false)
	gen := s.flapGen
	s.q.after(100*time.Millisecond+time.Duration(s.faultRng.Int63n(int64(2*time.Second))), func() {
		if s.flapGen == gen && !s.liveness {
			s.heal()
		}
	})
}

// flap toggles one link both ways at random intervals until a time or until healed.
func (s *sim) flap(l link, gen uint64, until time.Duration) {
	if s.flapGen != gen || s.liveness {
		return
	}
	if s.q.now >= until {
		s.heal()
		return
	}
	s.net.toggle(l)
	s.net.toggle(link{l.to, l.from})
	state := "up"
	if s.net.blocked(l.from, l.to) {
		state = "down"
	}
	s.emit(Event{Kind: EventPartition, Detail: fmt.Sprintf("flap %d<->%d %s", l.from, l.to, state)})
	s.faultChanged(false)
	s.q.after(50*time.Millisecond+time.Duration(s.faultRng.Int63n(int64(250*time.Millisecond))), func() { s.flap(l, gen, until) })
}

// heal ends every partition and flapping link.
func (s *sim) heal() {
	s.flapping = false
	s.flapGen++
	if s.net.partitioned() {
		s.net.heal()
		s.emit(Event{Kind: EventHeal})
	}
	s.faultChanged(false)
}

func (s *sim) crashAction() {
	var candidates []uint64
	for _, id := range s.ids {
		if !s.nodes[id].crashed {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 || !s.canCrash() {
		return
	}
	n := s.nodes[candidates[s.faultRng.Intn(len(candidates))]]
	if s.faultRng.Float64() < s.mix.CrashLeader {
		for _, id := range candidates {
			if s.nodes[id].role == raft.Leader {
				n = s.nodes[id]
			}
		}
	}
	s.crashFor(n, 20*time.Millisecond+time.Duration(s.faultRng.Int63n(int64(s.mix.MaxDowntime))))
}

// canCrash reports whether one more crash keeps a majority of the nodes alive, which the safety
// phase keeps most of the time so that it also makes progress; liveness without a majority is not
// Raft's promise.
func (s *sim) canCrash() bool {
	crashed := 0
	for _, id := range s.ids {
		if s.nodes[id].crashed {
			crashed++
		}
	}
	return crashed < (len(s.ids)-1)/2+boolInt(len(s.ids) <= 2)
}

// crashFor crashes a node and restarts it after down, unless the liveness phase does first.
func (s *sim) crashFor(n *node, down time.Duration) {
	n.crash()
	s.faultChanged(true)
	s.q.after(down, func() {
		if !s.liveness && n.crashed {
			n.restart()
			s.faultChanged(true)
		}
	})
}

func (s *sim) pauseAction() {
	var candidates []uint64
	for _, id := range s.ids {
		if s.nodes[id].up() {
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		return
	}
	n := s.nodes[candidates[s.faultRng.Intn(len(candidates))]]
	n.pause(50*time.Millisecond + time.Duration(s.faultRng.Int63n(int64(2*time.Second))))
	s.faultChanged(true)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// startLiveness heals every fault: the network, crashed and paused nodes. From here on the cluster
// must elect a leader within a bound, finish every request and converge (TigerBeetle's liveness
// mode; Raft paper §5.6: availability once the system is stable).
func (s *sim) startLiveness() {
	s.liveness = true
	s.emit(Event{Kind: EventPhase, Detail: "liveness: every fault healed"})
	s.heal()
	s.net.cfg = netConfig{Latency: s.net.cfg.Latency, Spread: s.net.cfg.Spread, Jitter: 2 * time.Millisecond}
	for _, id := range s.ids {
		n := s.nodes[id]
		if n.crashed {
			n.restart()
		} else if n.paused {
			n.resume()
		}
	}
	s.faultChanged(true)
	s.q.after(0, s.probeLeader)
}
