// Package sim is Kanna's deterministic cluster simulator: whole clusters of real node engines run
// in one thread on a virtual clock, over a simulated network and disk that fail on purpose, with
// every choice drawn from one seed.
//
// It follows the testing method of FoundationDB and TigerBeetle: a seed decides the fault mix
// (swarm testing), the schedule, the latencies and the clients' requests; checkers state Raft's
// safety properties (paper Figure 3) across the cluster after every event; a run has a safety
// phase with faults on and a liveness phase with every fault healed, in which the cluster must
// elect a leader, finish every request and converge. The same seed gives a byte-identical trace.
//
// This file holds the options, the result of a run and the main loop.
package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"time"

	"github.com/kanna-cluster/kanna/raft"
	nodeengine "github.com/kanna-cluster/kanna/server/engine"
)

// Options configure one run. The zero value of a field means its default.
type Options struct {
	Seed     int64
	Nodes    int           // cluster size; default 5
	Duration time.Duration // simulated time of the whole run, both phases; default 60s
	// Liveness is the length of the final phase with every fault healed; default a quarter of
	// Duration, at least 5s and at most 15s.
	Liveness time.Duration
	// Faults lists the faults a seed may enable (see FaultNames); nil allows all of them. Each
	// seed enables its own subset with its own rates (swarm testing).
	Faults []string
	// Bug names a teaching bug to switch on (see Bugs); empty for correct Raft.
	Bug string
	// Clients is the number of concurrent players; default drawn from 3 to 5.
	Clients int
	// Tick is the virtual time between two ticks of a node without drift; default the real node's,
	// nodeengine.DefaultTickMillis (25 ms).
	Tick time.Duration
	// KeepEvents keeps the structured events in Run.Events (for the HTML diagram).
	KeepEvents bool
	// Trace, when set, receives the text trace, one line per event.
	Trace io.Writer

	// Preset names a bug whose fault preset and tuning apply without the bug itself: the control
	// run that shows a seed fails because of the bug, not because of its faults.
	Preset string

	// NoGossip runs Raft alone: no gossip core beside each node (gossip.go), no gossip messages,
	// no gossip checker. Raft's own events are the same either way.
	NoGossip bool

	// Membership swarms membership changes: nodes join, leave and are replaced during the safety
	// phase, and gossip drives the configuration changes (membership.go). It needs gossip.
	Membership bool
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Duration == 0 {
		o.Duration = 60 * time.Second
	}
	if o.Liveness == 0 {
		o.Liveness = min(max(o.Duration/4, 5*time.Second), 15*time.Second)
	}
	if o.Tick == 0 {
		o.Tick = nodeengine.DefaultTickMillis * time.Millisecond
	}
	return o
}

// Run is the outcome of one run.
type Run struct {
	Options    Options
	Mix        FaultMix    // the faults this seed enabled
	TraceHash  string      // SHA-256 of the trace's binary records, one per event (trace.go)
	EventCount int         // trace lines
	Events     []Event     // only with Options.KeepEvents
	Violations []Violation // empty when every checker held
	History    []Operation // every client operation, in call order
	SimTime    time.Duration
	OpsOK      int // operations that completed
	// LeaderChanges counts elections won: distinct (term, leader) pairs.
	LeaderChanges int

	// Linearizable is porcupine's verdict on History; nil when the run stopped before its end.
	Linearizable *LinearizableReport

	// GossipMsgs counts the gossip messages nodes sent, GossipDropped those the network or a
	// down receiver lost, GossipDeclaredDead the members some node's gossip declared dead.
	GossipMsgs, GossipDropped, GossipDeclaredDead int
	// FailoverElect and FailoverWrite are, for each crash of a leader whose failover finished
	// before another leader crashed, the virtual time from the crash until a node led in a later
	// term, and until a write was acknowledged by another node (failover.go).
	FailoverElect, FailoverWrite []time.Duration

	// GossipConverged is how long after healing every gossip view first showed every member
	// alive; -1 when gossip is off or the views never converged.
	GossipConverged time.Duration

	logs []logFrame // every node's log over time, only with Options.KeepEvents
}

// Failed reports whether any checker fired.
func (r *Run) Failed() bool { return len(r.Violations) > 0 }

// Execute runs one seed to the end, or to its first violation.
func Execute(opts Options) (*Run, error) {
	opts = opts.withDefaults()
	if newEngine == nil {
		return nil, errNoEngine
	}
	if opts.Nodes < 1 {
		return nil, fmt.Errorf("sim: --nodes must be at least 1, got %d", opts.Nodes)
	}
	if opts.Membership && opts.NoGossip {
		return nil, errors.New("sim: --membership needs gossip: membership changes are driven by the gossip view; drop --gossip=false")
	}
	if opts.Liveness >= opts.Duration {
		return nil, fmt.Errorf("sim: the liveness phase (%v) must be shorter than the whole run (%v); raise --duration", opts.Liveness, opts.Duration)
	}
	bug, err := lookupBug(opts.Bug)
	if err != nil {
		return nil, err
	}
	if opts.Preset != "" {
		preset, err := lookupBug(opts.Preset)
		if err != nil {
			return nil, err
		}
		bug = Bug{Faults: preset.Faults, tune: preset.tune, membership: preset.membership}
	}
	if bug.membership {
		opts.Membership = true
	}
	allowed, err := parseFaults(opts.Faults, bug)
	if err != nil {
		return nil, err
	}
	if opts.Membership && allowed["storage"] {
		// The voter-quorum checker counts an acknowledgement as a copy held, which a disk that
		// later lost it no longer is; it does not yet know a recovering node from a sound one.
		return nil, errors.New("sim: storage faults are not yet combined with --membership (the voter-quorum " +
			"checker would count acknowledgements a damaged disk has since lost); run them apart")
	}
	s := newSim(opts, bug, allowed)
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.result(), nil
}

// sim is the state of one run.
type sim struct {
	opts    Options
	bug     Bug
	q       queue
	trace   *tracer
	check   *checkers
	net     *network
	mix     FaultMix
	ids     []uint64
	nodes   map[uint64]*node // looked up by id; iterated only through ids
	clients []*client
	history []Operation

	faultRng  *rand.Rand
	clientRng *rand.Rand

	liveness  bool           // in the final phase: faults healed
	safetyEnd time.Duration  // when the liveness phase starts
	leaderAt  time.Duration  // when the liveness phase saw a leader everyone follows; 0 until then
	flapping  bool           // a link is flapping
	flapGen   uint64         // bumps when flapping stops, so its pending toggles do nothing
	stopped   bool           // a violation ended the run
	freeWire  pool[inFlight] // in-flight message records free for reuse
	scratch   []byte         // reused to format an event's detail

	freeGossipWire pool[gossipInFlight]
	freeSync       pool[fsyncWait]
	freeAnswers    pool[answer]

	safetyDisks []*disk // reused by checkCommitSafety
	safetyAll   []int

	linearizable *LinearizableReport // porcupine's verdict, once the run ended
	logs         []logFrame          // every node's log over time, with KeepEvents (logview.go)

	// Gossip beside Raft (gossip.go).
	gossipNetRng       *rand.Rand        // the fate of gossip messages, apart from Raft's
	gossipAddrs        map[string]uint64 // gossip address -> node id
	gossipAt           time.Duration     // how long after healing every view first showed all alive; -1 until then
	gossipMsgs         int
	gossipDropped      int
	gossipDeclaredDead int

	// Membership under faults (membership.go).
	memberRng *rand.Rand        // the schedule of joins and leaves, apart from every other stream
	gossipIDs map[string]uint64 // gossip name -> node id
	lastID    uint64            // the highest node id given out
	founders  []uint64          // the founding configuration
	// awaitingRemoval is the node that left and whose removal is not yet committed; 0 when none.
	awaitingRemoval uint64

	// Failover spans (failover.go).
	failover                     *failoverWatch
	failoverElect, failoverWrite []time.Duration
}

func newSim(opts Options, bug Bug, allowed map[string]bool) *sim {
	master := rand.New(rand.NewSource(opts.Seed))
	// Every sub-generator is seeded from the master in a fixed order, so each concern has its own
	// stream: adding a draw to the network does not shift the fault schedule.
	netRng := rand.New(rand.NewSource(master.Int63()))
	faultRng := rand.New(rand.NewSource(master.Int63()))
	clientRng := rand.New(rand.NewSource(master.Int63()))
	nodeRng := rand.New(rand.NewSource(master.Int63()))
	mixRng := rand.New(rand.NewSource(master.Int63()))
	// Gossip's streams come last, so a run without gossip draws what it drew before gossip ran
	// beside Raft.
	gossipRng := rand.New(rand.NewSource(master.Int63()))
	gossipNetRng := rand.New(rand.NewSource(master.Int63()))
	// Membership's stream comes after every other, so a run without it draws what it drew before.
	memberRng := rand.New(rand.NewSource(master.Int63()))

	s := &sim{
		opts:      opts,
		bug:       bug,
		trace:     newTracer(opts.KeepEvents, opts.Trace),
		check:     newCheckers(),
		nodes:     map[uint64]*node{},
		faultRng:  faultRng,
		clientRng: clientRng,
		safetyEnd: opts.Duration - opts.Liveness,

		gossipNetRng: gossipNetRng,
		gossipAddrs:  map[string]uint64{},
		gossipAt:     -1,
		memberRng:    memberRng,
		gossipIDs:    map[string]uint64{},
	}
	s.mix = drawMix(mixRng, allowed)
	if bug.tune != nil {
		bug.tune(&s.mix)
	}
	for i := 1; i <= opts.Nodes; i++ {
		s.ids = append(s.ids, uint64(i))
	}
	s.founders, s.lastID = slices.Clone(s.ids), uint64(opts.Nodes)
	s.net = newNetwork(s.mix.net(), netRng, s.ids)
	for _, id := range s.ids {
		s.nodes[id] = newNode(s, id, nodeRng)
		s.nodes[id].grng = rand.New(rand.NewSource(gossipRng.Int63()))
		s.gossipAddrs[gossipAddr(id)] = id
		s.gossipIDs[gossipID(id)] = id
		s.nodes[id].policy = nodeengine.NewMembership(id, simMembership)
	}
	n := opts.Clients
	if n == 0 {
		n = 3 + clientRng.Intn(3)
	}
	for i := 1; i <= n; i++ {
		s.clients = append(s.clients, newClient(s, i, rand.New(rand.NewSource(clientRng.Int63()))))
	}
	s.history = make([]Operation, 0, s.expectedOps())
	return s
}

// emit records one trace event at the current virtual time.
func (s *sim) emit(e Event) {
	e.At = s.q.now
	s.trace.add(e)
}

// noteViolations writes the violations found since seen into the trace and stops the run: the
// first violation is the one worth reading, and what follows it is fallout.
func (s *sim) noteViolations(seen int) {
	for _, v := range s.check.violations[seen:] {
		s.emit(Event{Kind: EventViolation, Node: v.Node, Detail: v.Checker + ": " + v.Detail})
		s.stopped = true
	}
}

func (s *sim) run() error {
	s.emit(Event{Kind: EventPhase, Detail: fmt.Sprintf("safety seed=%d nodes=%d bug=%q preset=%q mix=%s",
		s.opts.Seed, s.opts.Nodes, s.opts.Bug, s.opts.Preset, s.mix)})
	for _, id := range s.ids {
		if err := s.nodes[id].start(); err != nil {
			return err
		}
	}
	for _, c := range s.clients {
		c.start()
	}
	s.scheduleFaults()
	s.scheduleMembership()
	s.q.at(s.safetyEnd, s.startLiveness)
	if !s.opts.NoGossip {
		s.q.at(s.safetyEnd, s.probeGossip) // after startLiveness, which is queued first
	}
	for !s.stopped {
		seen := len(s.check.violations)
		if !s.q.step(s.opts.Duration) {
			break
		}
		s.noteViolations(seen)
	}
	if !s.stopped {
		s.q.now = s.opts.Duration
		s.finalChecks()
	}
	return nil
}

func (s *sim) result() *Run {
	r := &Run{
		Options:       s.opts,
		Mix:           s.mix,
		TraceHash:     s.trace.sum(),
		EventCount:    s.trace.count,
		Events:        s.trace.events,
		Violations:    s.check.violations,
		History:       s.history,
		SimTime:       s.q.now,
		LeaderChanges: len(s.check.leaders),
		Linearizable:  s.linearizable,
		logs:          s.logs,

		GossipMsgs:         s.gossipMsgs,
		GossipDropped:      s.gossipDropped,
		GossipDeclaredDead: s.gossipDeclaredDead,
		GossipConverged:    s.gossipAt,

		FailoverElect: s.failoverElect,
		FailoverWrite: s.failoverWrite,
	}
	for _, op := range s.history {
		if op.Done {
			r.OpsOK++
		}
	}
	return r
}

// send hands a message to the network, which decides its fate.
func (s *sim) send(m raft.Message) {
	f := s.net.send(m.From, m.To)
	if f.drop != "" {
		s.emitMsg(EventDrop, m, f.drop)
		return
	}
	detail := ""
	if f.n > 1 {
		detail = "dup"
	}
	s.emitMsg(EventSend, m, detail)
	to := s.nodes[m.To]
	if to == nil {
		return
	}
	for _, d := range f.times() {
		w := s.wire()
		w.to, w.m = to, m
		s.q.afterAct(d, w)
	}
}

// inFlight is a Raft message on its way to a node: the most common event of a run, so its
// records are reused rather than allocated one per message.
type inFlight struct {
	s  *sim
	to *node
	m  raft.Message
}

// wire takes a free in-flight record.
func (s *sim) wire() *inFlight {
	if w, ok := s.freeWire.take(); ok {
		return w
	}
	return &inFlight{s: s}
}

func (w *inFlight) fire() {
	to, m := w.to, w.m
	w.to, w.m = nil, raft.Message{}
	w.s.freeWire.give(w)
	to.deliver(m)
}

// emitMsg records a message event with the fields a reader of the trace needs.
func (s *sim) emitMsg(kind EventKind, m raft.Message, note string) {
	s.trace.message(s.q.now, kind, &m, note)
}
