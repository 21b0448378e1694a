// What every member believes about every other, read from the events its core reports, and what
// the run measures and checks from it.
//
// Measurements are those of SWIM §5 and Lifeguard §5: time from a crash to its first and its last
// detection, the spread of the "dead" news in protocol periods, messages per member per second
// (SWIM §3: constant in N), and false positives (healthy members declared dead). The checkers are
// the two liveness properties a membership protocol owes once faults heal:
//
//   - convergence: at the end of the run, every live member's view is the true membership
//     (every live member alive, the crashed one dead);
//   - no stale death: no member stays dead in a live member's view for longer than
//     StaleDeadBound while it is alive and the two can reach each other.

package gossipsim

import (
	"fmt"
	"sort"
	"time"

	"github.com/kanna-cluster/kanna/gossip"
)

// The checker names, as they appear in violations.
const (
	CheckConvergence = "convergence"
	CheckStaleDead   = "stale-dead"
)

// maxViolations caps the violations kept per run; Result.ViolationCount has the full number.
const maxViolations = 20

// Violation is one broken property.
type Violation struct {
	Checker string  `json:"checker"`
	AtS     float64 `json:"at_s"`
	Detail  string  `json:"detail"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %.1fs: %s", v.Checker, v.AtS, v.Detail)
}

// Result is what one run measured. Times are in seconds of simulated time; a pointer is nil when
// the thing never happened.
type Result struct {
	Seed      int64   `json:"seed"`
	Members   int     `json:"members"`
	Loss      float64 `json:"loss"`
	Pause     bool    `json:"pause"`
	Partition int     `json:"partition"`
	Lifeguard bool    `json:"lifeguard"`

	// FirstDetectS and AllDetectS run from the crash to the first and the last survivor marking
	// the victim dead.
	FirstDetectS *float64 `json:"first_detect_s"`
	AllDetectS   *float64 `json:"all_detect_s"`
	// DisseminationPeriods is the time, in protocol periods, from the first survivor's marking
	// the victim dead to the last's: how long the "dead" news took to reach everyone.
	DisseminationPeriods *float64 `json:"dissemination_periods"`

	// FalsePositives counts the healthy members (not crashed, not paused) that some member
	// declared dead while the two could reach each other; FalsePositiveEvents counts those
	// declarations over every observer, FalseSuspicionEvents the suspicions.
	FalsePositives       int `json:"false_positives"`
	FalsePositiveEvents  int `json:"false_positive_events"`
	FalseSuspicionEvents int `json:"false_suspicion_events"`
	// PausedSuspected and PausedDeclaredDead count the suspicions and declarations of death of
	// the paused member, over every observer.
	PausedSuspected    int `json:"paused_suspected"`
	PausedDeclaredDead int `json:"paused_declared_dead"`
	// PartitionDeclaredDead counts the (observer, member) pairs on opposite sides of the
	// partition in which the observer declared the member dead while they were cut apart.
	PartitionDeclaredDead int `json:"partition_declared_dead"`

	// MsgsPerMemberPerS is the messages sent, per member and simulated second, after Warmup.
	MsgsPerMemberPerS float64        `json:"msgs_per_member_per_s"`
	MsgsByType        map[string]int `json:"msgs_by_type"`

	// ConvergedS is how long after faults ended every live view first matched the truth.
	ConvergedS *float64 `json:"converged_s"`

	SimSeconds     float64     `json:"sim_seconds"`
	Events         int         `json:"events"`
	ViolationCount int         `json:"violation_count"`
	Violations     []Violation `json:"violations"`
}

// belief is what one member believes about another; unknown sorts before the gossip states.
type belief uint8

const (
	believeAlive belief = iota
	believeSuspect
	believeDead
	believeLeft
)

func beliefOf(s gossip.State) belief {
	switch s {
	case gossip.StateSuspect:
		return believeSuspect
	case gossip.StateDead:
		return believeDead
	case gossip.StateLeft:
		return believeLeft
	}
	return believeAlive
}

// pair is an observer and the member it believes something about.
type pair struct{ observer, member int32 }

// staleDeath is a live member believed dead by another, and since when the two have been able to
// reach each other (negative: they cannot now).
type staleDeath struct {
	reachableSince time.Duration
	reported       bool
}

// observer follows the beliefs of every member and computes the Result.
type observer struct {
	s      *simulation
	n      int
	belief []belief // belief[o*n+m]: what o believes about m
	wrong  int      // live observers' beliefs that differ from the truth

	crashAt           time.Duration
	detectedBy        []bool // survivors that have marked the victim dead
	detected          int
	firstDet, lastDet time.Duration

	falseDead   map[int32]bool
	fpEvents    int
	fsEvents    int
	pausedDead  int
	pausedSusp  int
	crossDead   map[pair]bool
	sent        map[gossip.MessageType]int
	sentCounted int

	healedAt  time.Duration
	converged time.Duration // -1 until views first match the truth after faults end

	stale      map[pair]*staleDeath
	violations []Violation
	violCount  int
}

func newObserver(s *simulation) *observer {
	return &observer{
		s: s, n: len(s.members), belief: make([]belief, len(s.members)*len(s.members)),
		detectedBy: make([]bool, len(s.members)), falseDead: map[int32]bool{}, crossDead: map[pair]bool{}, sent: map[gossip.MessageType]int{},
		stale: map[pair]*staleDeath{}, healedAt: -1, converged: -1, crashAt: -1,
	}
}

// truth is what member m is: dead if it crashed, else alive.
func (o *observer) truth(m int) belief {
	if o.s.members[m].crashed {
		return believeDead
	}
	return believeAlive
}

// isWrong reports whether live observer ob's belief about m differs from the truth.
func (o *observer) isWrong(ob, m int) bool {
	return ob != m && !o.s.members[ob].crashed && o.belief[ob*o.n+m] != o.truth(m)
}

// countSent counts one message put on the network.
func (o *observer) countSent(t gossip.MessageType) {
	if o.s.q.now >= o.s.opts.Warmup {
		o.sent[t]++
		o.sentCounted++
	}
}

// events takes the events member ob's core reported.
func (o *observer) events(ob int, evs []gossip.Event) {
	for _, e := range evs {
		m, ok := o.s.byAddr[e.Member.Addr]
		if !ok || o.s.members[m].id != e.Member.ID {
			continue
		}
		o.set(ob, int(m), beliefOf(e.Member.State), e.Type)
	}
}

// set records that ob now believes b about m, and what that means for the measurements.
func (o *observer) set(ob, m int, b belief, why gossip.EventType) {
	now := o.s.q.now
	before := o.isWrong(ob, m)
	o.belief[ob*o.n+m] = b
	after := o.isWrong(ob, m)
	switch {
	case before && !after:
		o.wrong--
	case !before && after:
		o.wrong++
	}

	healthy := !o.s.members[m].crashed && m != o.s.pausedOne && !o.s.cut(int32(ob), int32(m))
	switch {
	case why == gossip.EventFailed && m == o.s.victim && o.s.members[m].crashed:
		if !o.detectedBy[ob] {
			o.detectedBy[ob] = true
			if o.detected == 0 {
				o.firstDet = now
			}
			o.detected++
			o.lastDet = now
		}
	case why == gossip.EventFailed && m == o.s.pausedOne:
		o.pausedDead++
	case why == gossip.EventSuspect && m == o.s.pausedOne:
		o.pausedSusp++
	case why == gossip.EventFailed && o.s.cut(int32(ob), int32(m)):
		o.crossDead[pair{int32(ob), int32(m)}] = true
	case why == gossip.EventFailed && healthy:
		o.fpEvents++
		o.falseDead[int32(m)] = true
	case why == gossip.EventSuspect && healthy:
		o.fsEvents++
	}

	p := pair{int32(ob), int32(m)}
	if b == believeDead && !o.s.members[m].crashed {
		if _, ok := o.stale[p]; !ok {
			o.stale[p] = &staleDeath{reachableSince: -1}
		}
	} else {
		delete(o.stale, p)
	}
}

// crash takes note that member v crashed: it observes nothing more, and the truth about it is now
// "dead" in every view.
func (o *observer) crash(v int) {
	o.crashAt = o.s.q.now
	for ob := range o.n {
		if ob == v {
			continue
		}
		// Recount ob's belief about v under the new truth: it was right while v lived.
		if o.belief[ob*o.n+v] != believeAlive {
			o.wrong--
		}
		if o.isWrong(ob, v) {
			o.wrong++
		}
		delete(o.stale, pair{int32(ob), int32(v)})
	}
	for m := range o.n {
		if m != v && o.belief[v*o.n+m] != o.truth(m) {
			o.wrong-- // v's own beliefs no longer count
		}
		delete(o.stale, pair{int32(v), int32(m)})
	}
}

func (o *observer) healed() { o.healedAt = o.s.q.now }

// violate records a violation.
func (o *observer) violate(checker, detail string) {
	o.violCount++
	if len(o.violations) < maxViolations {
		o.violations = append(o.violations, Violation{Checker: checker, AtS: o.s.q.now.Seconds(), Detail: detail})
	}
}

// reachable reports whether members a and b can exchange messages now.
func (o *observer) reachable(a, b int) bool {
	ma, mb := o.s.members[a], o.s.members[b]
	return !ma.crashed && !mb.crashed && !ma.paused && !mb.paused && !o.s.cut(int32(a), int32(b))
}

// check runs once per protocol period: it notes when views first converge after faults end, and
// reports deaths that outlived StaleDeadBound while both members could talk.
func (o *observer) check() {
	now := o.s.q.now
	if o.healedAt >= 0 && o.converged < 0 && o.wrong == 0 {
		o.converged = now
	}
	pairs := make([]pair, 0, len(o.stale))
	for p := range o.stale {
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].observer != pairs[j].observer {
			return pairs[i].observer < pairs[j].observer
		}
		return pairs[i].member < pairs[j].member
	})
	for _, p := range pairs {
		d := o.stale[p]
		if !o.reachable(int(p.observer), int(p.member)) {
			d.reachableSince = -1
			continue
		}
		if d.reachableSince < 0 {
			d.reachableSince = now
		}
		if !d.reported && now-d.reachableSince > o.s.opts.StaleDeadBound {
			d.reported = true
			o.violate(CheckStaleDead, fmt.Sprintf("%s has believed %s dead for over %v while both are up and reachable",
				o.s.members[p.observer].id, o.s.members[p.member].id, o.s.opts.StaleDeadBound))
		}
	}
}

// checkConvergence compares every live member's own view, read from its core, with the truth.
func (o *observer) checkConvergence() {
	for ob, sm := range o.s.members {
		if sm.crashed {
			continue
		}
		for _, m := range sm.node.Members() {
			i, ok := o.s.byAddr[m.Addr]
			if !ok || int(i) == ob {
				continue
			}
			if beliefOf(m.State) == o.truth(int(i)) {
				continue
			}
			truth := "alive"
			if o.s.members[i].crashed {
				truth = "crashed"
			}
			o.violate(CheckConvergence, fmt.Sprintf("%s sees %s %v at the end of the run; it is %s", sm.id, m.ID, m.State, truth))
		}
	}
}

// result computes the Result at the end of the run.
func (o *observer) result(events int) *Result {
	o.checkConvergence()
	opts := o.s.opts
	r := &Result{
		Seed: opts.Seed, Members: opts.Members, Loss: opts.Loss, Pause: opts.Pause, Partition: opts.Partition,
		Lifeguard: opts.Lifeguard, FalsePositives: len(o.falseDead), FalsePositiveEvents: o.fpEvents,
		FalseSuspicionEvents: o.fsEvents, PausedSuspected: o.pausedSusp, PausedDeclaredDead: o.pausedDead,
		PartitionDeclaredDead: len(o.crossDead), MsgsByType: map[string]int{},
		SimSeconds: opts.Duration.Seconds(), Events: events, ViolationCount: o.violCount, Violations: o.violations,
	}
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	seconds := func(d time.Duration) *float64 { v := d.Seconds(); return &v }
	if o.detected > 0 {
		r.FirstDetectS = seconds(o.firstDet - o.crashAt)
	}
	if survivors := o.n - 1; o.detected == survivors && o.crashAt >= 0 {
		r.AllDetectS = seconds(o.lastDet - o.crashAt)
		p := float64(o.lastDet-o.firstDet) / float64(o.s.period)
		r.DisseminationPeriods = &p
	}
	if o.converged >= 0 {
		r.ConvergedS = seconds(o.converged - o.healedAt)
	}
	if window := opts.Duration - opts.Warmup; window > 0 {
		r.MsgsPerMemberPerS = float64(o.sentCounted) / float64(o.n) / window.Seconds()
	}
	for t, c := range o.sent {
		r.MsgsByType[t.String()] = c
	}
	return r
}
