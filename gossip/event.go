// Membership events a core reports to its subscribers (the engine turns them into Raft
// configuration changes; the dashboard shows them).
//
// They are the transitions of the state table in member.go, as seen by this member: SWIM §4.2's
// alive, suspect and confirm, plus memberlist's leave, metadata update and recovery.

package gossip

import "fmt"

// EventType says what happened to a member.
type EventType uint8

const (
	// EventJoined: a member this node did not know, or knew as left, is alive.
	EventJoined EventType = iota + 1
	// EventUpdated: an alive member announced a new address or metadata.
	EventUpdated
	// EventSuspect: a member is suspected of having failed.
	EventSuspect
	// EventFailed: a suspicion timed out; the member is declared dead.
	EventFailed
	// EventLeft: a member left gracefully.
	EventLeft
	// EventRecovered: a suspect or dead member refuted with a higher incarnation and is alive.
	EventRecovered
)

func (t EventType) String() string {
	switch t {
	case EventJoined:
		return "joined"
	case EventUpdated:
		return "updated"
	case EventSuspect:
		return "suspect"
	case EventFailed:
		return "failed"
	case EventLeft:
		return "left"
	case EventRecovered:
		return "recovered"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is one transition of one member, with the member's record after it.
type Event struct {
	Type   EventType
	Member Member
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s inc=%d", e.Type, e.Member.ID, e.Member.Incarnation)
}
