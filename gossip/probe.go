// The failure detector: SWIM §3.1 ("SWIM Failure Detector") with the round-robin target
// selection of §4.3, and Lifeguard's local health and nacks (LHA-Probe) and Buddy System.
//
// Each protocol period this member pings one other. If no ack arrives within the probe timeout it
// asks IndirectChecks others to ping the target for it (ping-req); if by the end of the period no
// ack has come back, directly or relayed, it suspects the target. Targets are taken in turn from a
// shuffled list, reshuffled after each pass, so every member is probed within a bounded time
// (§4.3: at most 2N-1 periods) rather than only in expectation. With Lifeguard, the period and the
// timeout stretch by the local health score, and the score moves with the outcome of each probe.

package gossip

// probe is the probe of the current protocol period.
type probe struct {
	target        string
	incarnation   uint64 // the target's when pinged: only that life is suspected if it fails
	seq           uint64
	indirectAt    int64 // tick to send ping-reqs if no ack has come
	indirectSent  bool
	acked         bool
	expectedNacks int
	nacks         int
}

// relay is a ping-req this member is serving for another: it pinged target and will forward the
// ack, or send a nack if none comes in time.
type relay struct {
	seq        uint64 // of our ping to the target
	origin     string
	originAddr string
	originSeq  uint64
	wantNack   bool
	nackAt     int64
}

// tickProbe sends the ping-reqs of the current probe when its timeout passes, and at the end of
// each period settles the probe and starts the next.
func (n *Node) tickProbe() {
	if n.leaving {
		return
	}
	if p := n.probe; p != nil && !p.acked && !p.indirectSent && n.now >= p.indirectAt {
		n.sendPingReqs(p)
	}
	if n.now < n.nextProbe {
		return
	}
	n.finishProbe()
	n.startProbe()
}

// startProbe pings the next member in round-robin order.
//
//kanna:lab 6 "Every protocol period, ping one member, taken in turn from a shuffled list" SWIM §3.1, §4.3
func (n *Node) startProbe() {
	interval, timeout := n.ticks.probeInterval, n.ticks.probeTimeout
	if n.cfg.LocalHealth {
		interval, timeout = n.awareness.scale(interval), n.awareness.scale(timeout)
	}
	n.nextProbe = n.now + interval
	target, ok := n.nextProbeTarget()
	if !ok {
		return
	}
	n.seq++
	n.probe = &probe{target: target.ID, incarnation: target.Incarnation, seq: n.seq, indirectAt: n.now + timeout}
	ping := Message{Type: MsgPing, To: target.Addr, ToID: target.ID, Seq: n.seq}
	if n.cfg.BuddySystem && target.State == StateSuspect {
		// Tell the target it is suspected, so it can refute in its ack rather than wait for the
		// suspicion to reach it by gossip (Lifeguard Buddy System).
		ping.Updates = []Update{{Member: target.copy(), From: n.cfg.ID}}
	}
	n.send(ping)
}

// finishProbe settles the probe of the period that just ended: an ack lowers the local health
// score; silence raises it and makes the target suspect.
//
//kanna:lab 6 "A target that sent no ack, directly or relayed, by the end of the period becomes suspect" SWIM §4.2
func (n *Node) finishProbe() {
	p := n.probe
	n.probe = nil
	if p == nil {
		return
	}
	if p.acked {
		if n.cfg.LocalHealth {
			n.awareness.apply(-1)
		}
		return
	}
	if n.cfg.LocalHealth {
		// Relays that did not nack could not reach us, or we could not hear them: evidence that the
		// trouble is ours (Lifeguard LHA-Probe). Without relays to ask, any failure counts once.
		delta := 1
		if p.expectedNacks > 0 {
			delta = p.expectedNacks - p.nacks
		}
		n.awareness.apply(delta)
	}
	target, ok := n.members[p.target]
	if !ok || (target.State != StateAlive && target.State != StateSuspect) {
		return
	}
	// Suspect the incarnation we pinged: if the target has refuted since, a newer life answered
	// nothing only because we never asked it, and this suspicion loses as it should.
	u := Update{Member: target.copy(), From: n.cfg.ID}
	u.Member.State, u.Member.Incarnation = StateSuspect, p.incarnation
	n.suspectNode(u)
}

// sendPingReqs asks IndirectChecks random alive members to ping the target (SWIM §3.1).
//
//kanna:lab 6 "With no ack by the probe timeout, ask k other members to ping the target (ping-req)" SWIM §3.1
func (n *Node) sendPingReqs(p *probe) {
	p.indirectSent = true
	target, ok := n.members[p.target]
	if !ok {
		return
	}
	relays := n.pick(n.cfg.IndirectChecks, p.target, func(s State) bool { return s == StateAlive })
	for _, r := range relays {
		n.send(Message{
			Type: MsgPingReq, To: r.Addr, ToID: r.ID, Seq: p.seq,
			Target: target.ID, TargetAddr: target.Addr, Nack: n.cfg.Nack,
		})
	}
	if n.cfg.Nack {
		p.expectedNacks = len(relays)
	}
}

// nextProbeTarget returns the next alive or suspect member in the probe order, reshuffling the
// order after each full pass (§4.3). Dead and left members are skipped.
func (n *Node) nextProbeTarget() (*member, bool) {
	for tries := 0; tries <= len(n.probeOrder); tries++ {
		if n.probeIndex >= len(n.probeOrder) {
			n.reshuffle()
			if len(n.probeOrder) == 0 {
				return nil, false
			}
		}
		m := n.members[n.probeOrder[n.probeIndex]]
		n.probeIndex++
		if m.State == StateAlive || m.State == StateSuspect {
			return m, true
		}
	}
	return nil, false
}

// reshuffle rebuilds the probe order from the members worth probing, in a fresh random order.
func (n *Node) reshuffle() {
	n.probeOrder = n.probeOrder[:0]
	clear(n.inProbeOrder)
	for _, m := range n.list {
		if m.ID != n.cfg.ID && (m.State == StateAlive || m.State == StateSuspect) {
			n.probeOrder = append(n.probeOrder, m.ID)
			n.inProbeOrder[m.ID] = true
		}
	}
	n.rand.Shuffle(len(n.probeOrder), func(i, j int) {
		n.probeOrder[i], n.probeOrder[j] = n.probeOrder[j], n.probeOrder[i]
	})
	n.probeIndex = 0
}

// addToProbeOrder puts a new or revived member at a random place in the probe order (§4.3), so
// that it is probed within this pass or the next, and not always last.
func (n *Node) addToProbeOrder(id string) {
	if n.inProbeOrder[id] {
		return
	}
	n.inProbeOrder[id] = true
	i := n.rand.Intn(len(n.probeOrder) + 1)
	n.probeOrder = append(n.probeOrder, "")
	copy(n.probeOrder[i+1:], n.probeOrder[i:])
	n.probeOrder[i] = id
	if i < n.probeIndex {
		// It landed in the part already probed this pass; keep the pointer on the same member.
		n.probeIndex++
	}
}

// stepPing answers a ping with an ack.
func (n *Node) stepPing(m Message) {
	ack := Message{Type: MsgAck, To: m.FromAddr, ToID: m.From, Seq: m.Seq}
	if sender, ok := n.members[m.From]; ok && sender.State != StateAlive && n.cfg.BuddySystem {
		// We believe the sender suspect, dead or gone, yet it pings us: perhaps its refutation
		// never reached us. Tell it what we believe, so it can refute (again) at once: the buddy
		// system in the other direction.
		ack.Updates = []Update{{Member: sender.copy(), From: n.cfg.ID}}
	}
	n.send(ack)
}

// stepAck settles our probe, or forwards the ack to the member we relayed a ping-req for.
func (n *Node) stepAck(m Message) {
	if p := n.probe; p != nil && p.seq == m.Seq {
		p.acked = true
		return
	}
	for i, r := range n.relays {
		if r.seq == m.Seq {
			n.send(Message{Type: MsgAck, To: r.originAddr, ToID: r.origin, Seq: r.originSeq})
			n.relays = append(n.relays[:i], n.relays[i+1:]...)
			return
		}
	}
}

// stepNack counts a nack for our probe.
func (n *Node) stepNack(m Message) {
	if p := n.probe; p != nil && p.seq == m.Seq && p.nacks < p.expectedNacks {
		p.nacks++
	}
}

// stepPingReq pings the target on the sender's behalf.
//
//kanna:lab 6 "Asked to ping-req, ping the target on the asker's behalf and forward the ack" SWIM §3.1
func (n *Node) stepPingReq(m Message) {
	n.seq++
	n.relays = append(n.relays, &relay{
		seq: n.seq, origin: m.From, originAddr: m.FromAddr, originSeq: m.Seq,
		wantNack: m.Nack, nackAt: n.now + n.ticks.nackTimeout,
	})
	n.send(Message{Type: MsgPing, To: m.TargetAddr, ToID: m.Target, Seq: n.seq})
}

// tickRelays gives up on relayed pings whose target stayed silent, sending the nacks asked for.
func (n *Node) tickRelays() {
	kept := n.relays[:0]
	for _, r := range n.relays {
		if n.now < r.nackAt {
			kept = append(kept, r)
			continue
		}
		if r.wantNack {
			n.send(Message{Type: MsgNack, To: r.originAddr, ToID: r.origin, Seq: r.originSeq})
		}
	}
	clear(n.relays[len(kept):])
	n.relays = kept
}
