// Tests that each invariant check of the gossip core fires when its invariant breaks: older news
// overwriting newer, or this member's own incarnation going down, would otherwise spread to every
// member that hears from this one.

package gossip

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOverwritingAMemberWithOlderNewsPanics(t *testing.T) {
	cur := &member{Member: Member{ID: "b", Incarnation: 3, State: StateSuspect}}
	for _, tc := range []struct {
		older Member
		want  string
	}{
		{Member{ID: "b", Incarnation: 2, State: StateDead}, "back to dead at incarnation 2"},       // a lower incarnation
		{Member{ID: "b", Incarnation: 3, State: StateAlive}, "back to alive at incarnation 3"},     // a lower-ranked state
		{Member{ID: "b", Incarnation: 3, State: StateSuspect}, "back to suspect at incarnation 3"}, // the same news again
	} {
		require.PanicsWithValue(t, "gossip: invariant violated: member b would go from suspect at incarnation 3 "+tc.want,
			func() { overwrite(cur, tc.older) }, "%+v", tc.older)
		require.Equal(t, Member{ID: "b", Incarnation: 3, State: StateSuspect}, cur.Member, "the record is left as it was")
	}
	overwrite(cur, Member{ID: "b", Incarnation: 3, State: StateDead})
	require.Equal(t, StateDead, cur.State, "newer news is taken")
}

func TestOwnIncarnationGoingDownOrStandingStillPanics(t *testing.T) {
	self := &member{Member: Member{ID: "a", Incarnation: 5}}
	require.PanicsWithValue(t, "gossip: invariant violated: own incarnation going from 5 to 4; it may only rise",
		func() { raiseIncarnation(self, 4) })
	require.PanicsWithValue(t, "gossip: invariant violated: own incarnation going from 5 to 5; it may only rise",
		func() { raiseIncarnation(self, 5) })
	raiseIncarnation(self, 6)
	require.Equal(t, uint64(6), self.Incarnation)
}
