// Membership from gossip, in the shell: every tick, the gossip view goes to the engine's membership
// policy (server/engine/membership.go, thesis §4.1), and the one change it calls for, if this node
// leads, is proposed. docs/design.md, "Membership".
package server

import (
	"errors"

	"github.com/kanna-cluster/kanna/raft"
	"github.com/kanna-cluster/kanna/server/engine"
)

// reconcileMembership proposes the first configuration change the gossip view calls for, if this
// node leads.
func (n *Node) reconcileMembership() {
	var view []engine.Member
	for _, m := range n.gossip.Members() {
		if id := parseID(m.ID); id != 0 {
			view = append(view, engine.Member{ID: id, State: m.State})
		}
	}
	cc, why, ok := n.loop.members.Tick(n.engine.Status(), view)
	if !ok {
		return
	}
	if _, err := n.engine.ProposeConfChange(cc); err != nil {
		if !errors.Is(err, raft.ErrConfChangePending) {
			n.logger().Debug("membership: change not proposed; retrying next tick", "change", cc.Type.String(), "member", cc.NodeID, "err", err)
		}
		return
	}
	n.logger().Info("membership: proposing "+cc.Type.String(), "member", cc.NodeID, "reason", why)
}
