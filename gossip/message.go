// Messages between gossip cores, and their wire encoding.
//
// SWIM §3.1 needs ping, ack and ping-req; §4.1 piggybacks membership updates on all three (the
// Updates field). Lifeguard LHA-Probe adds the nack a ping-req relay sends when the target is
// silent. Gossip carries updates on their own between probes, and PushPull/PushPullReply swap whole
// membership tables (memberlist's anti-entropy; SWIM has no such message).

package gossip

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MessageType says what a Message is for.
type MessageType uint8

const (
	// MsgPing asks the receiver to answer with an ack carrying the same Seq (SWIM §3.1).
	MsgPing MessageType = iota + 1
	// MsgAck answers a ping, directly or relayed by a ping-req relay.
	MsgAck
	// MsgPingReq asks the receiver to ping Target on the sender's behalf (SWIM §3.1).
	MsgPingReq
	// MsgNack tells the prober that a ping-req relay heard nothing from Target (Lifeguard
	// LHA-Probe).
	MsgNack
	// MsgGossip carries piggybacked updates and nothing else.
	MsgGossip
	// MsgPushPull sends the sender's whole membership table and asks for the receiver's.
	MsgPushPull
	// MsgPushPullReply answers a MsgPushPull with the receiver's whole table.
	MsgPushPullReply
)

func (t MessageType) String() string {
	switch t {
	case MsgPing:
		return "ping"
	case MsgAck:
		return "ack"
	case MsgPingReq:
		return "ping-req"
	case MsgNack:
		return "nack"
	case MsgGossip:
		return "gossip"
	case MsgPushPull:
		return "push-pull"
	case MsgPushPullReply:
		return "push-pull-reply"
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Update is one piece of news about one member: the member's record as the sender knows it, and
// who says so. From matters for suspicions (Lifeguard counts independent confirmations) and for
// telling a leave (From is the member itself) from a death.
type Update struct {
	Member Member `json:"m"`
	From   string `json:"from"`
}

// Message is one datagram between cores. The shell delivers it to To and hands it to the
// receiving core's Step.
type Message struct {
	Type MessageType `json:"type"`
	// From and FromAddr name the sender, so the receiver can answer.
	From     string `json:"from"`
	FromAddr string `json:"fromAddr"`
	// To is the address to deliver to. ToID is the member expected there; it is empty only when
	// joining through an address. A core drops messages whose ToID is not its own, so a message
	// for a member that was replaced at the same address is not answered by the newcomer.
	To   string `json:"to"`
	ToID string `json:"toID,omitempty"`
	// Seq pairs an ack or nack with its ping or ping-req.
	Seq uint64 `json:"seq,omitempty"`
	// Target and TargetAddr name the member a ping-req asks the relay to ping.
	Target     string `json:"target,omitempty"`
	TargetAddr string `json:"targetAddr,omitempty"`
	// Nack asks a ping-req relay to answer with a nack if Target stays silent.
	Nack bool `json:"nack,omitempty"`
	// Updates are piggybacked membership news (SWIM §4.1).
	Updates []Update `json:"updates,omitempty"`
	// State is the sender's whole membership table, in push-pull messages only.
	State []Member `json:"state,omitempty"`
}

// String is a one-line summary for logs and traces: type, sender, receiver, and the news it
// carries, for example "ping n1->n2 seq=7 [suspect n3 inc=2]".
func (m Message) String() string {
	to := m.ToID
	if to == "" {
		to = m.To
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s->%s", m.Type, m.From, to)
	if m.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d", m.Seq)
	}
	if m.Target != "" {
		fmt.Fprintf(&b, " target=%s", m.Target)
	}
	if m.Nack {
		b.WriteString(" nack")
	}
	if len(m.State) > 0 {
		fmt.Fprintf(&b, " table=%d", len(m.State))
	}
	if len(m.Updates) > 0 {
		b.WriteString(" [")
		for i, u := range m.Updates {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%v %s inc=%d", u.Member.State, u.Member.ID, u.Member.Incarnation)
		}
		b.WriteString("]")
	}
	return b.String()
}

// Marshal encodes m for the wire.
func (m Message) Marshal() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %v message from %q: %w", m.Type, m.From, err)
	}
	return b, nil
}

// Unmarshal decodes a message encoded by Marshal. It rejects unknown message types and messages
// without a sender, which no core sends.
func Unmarshal(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("decode gossip message of %d bytes: %w; is the sender a Kanna gossip core?", len(b), err)
	}
	if m.Type < MsgPing || m.Type > MsgPushPullReply {
		return Message{}, fmt.Errorf("decode gossip message: unknown type %d; is the sender a newer version?", m.Type)
	}
	if m.From == "" || m.FromAddr == "" {
		return Message{}, fmt.Errorf("decode %v message: no sender; every core fills From and FromAddr", m.Type)
	}
	return m, nil
}

// encodedSize is the number of bytes u adds to a message's encoding, comma included. It is counted
// field by field rather than by encoding u, since a core counts every update it piggybacks; the
// count equals len(json.Marshal(u))+1 exactly (TestEncodedSizesMatchTheEncoding).
func encodedSize(u Update) int {
	return len(`{"m":`) + memberSize(&u.Member) + len(`,"from":`) + jsonStringSize(u.From) + len(`}`) + 1
}

func memberSize(m *Member) int {
	n := len(`{"id":`) + jsonStringSize(m.ID) + len(`,"addr":`) + jsonStringSize(m.Addr) + len(`,"meta":`)
	n += len(`{`) + len(`}`)
	if m.Meta.RaftAddr != "" {
		n += len(`"raft":`) + jsonStringSize(m.Meta.RaftAddr)
	}
	if len(m.Meta.Tags) > 0 {
		if m.Meta.RaftAddr != "" {
			n += len(`,`)
		}
		n += len(`"tags":[`) + len(`]`) + len(m.Meta.Tags) - 1 // the commas between tags
		for _, t := range m.Meta.Tags {
			n += len(`{"k":`) + jsonStringSize(t.Key) + len(`,"v":`) + jsonStringSize(t.Value) + len(`}`)
		}
	}
	return n + len(`,"inc":`) + uintSize(m.Incarnation) + len(`,"state":`) + uintSize(uint64(m.State)) + len(`}`)
}

// overhead is the number of bytes of m's encoding without its updates, plus the bytes the
// "updates" key adds once there is one. Like encodedSize it counts rather than encodes.
func overhead(m Message) int {
	if len(m.State) > 0 {
		// Only push-pull messages carry a table, and they are not trimmed to a budget.
		m.Updates = nil
		b, err := json.Marshal(m)
		if err != nil {
			panic(fmt.Sprintf("gossip: encode %v message: %v", m.Type, err))
		}
		return len(b) + len(`,"updates":[]`)
	}
	n := len(`{"type":`) + uintSize(uint64(m.Type)) + len(`,"from":`) + jsonStringSize(m.From) +
		len(`,"fromAddr":`) + jsonStringSize(m.FromAddr) + len(`,"to":`) + jsonStringSize(m.To)
	if m.ToID != "" {
		n += len(`,"toID":`) + jsonStringSize(m.ToID)
	}
	if m.Seq != 0 {
		n += len(`,"seq":`) + uintSize(m.Seq)
	}
	if m.Target != "" {
		n += len(`,"target":`) + jsonStringSize(m.Target)
	}
	if m.TargetAddr != "" {
		n += len(`,"targetAddr":`) + jsonStringSize(m.TargetAddr)
	}
	if m.Nack {
		n += len(`,"nack":true`)
	}
	return n + len(`}`) + len(`,"updates":[]`)
}

// jsonStringSize is the length of s encoded as a JSON string by encoding/json: quotes around it,
// and for anything but printable ASCII that needs no escaping, whatever encoding/json makes of it.
func jsonStringSize(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return len(b)
		}
	}
	return len(s) + 2
}

// uintSize is the number of decimal digits of v.
func uintSize(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
