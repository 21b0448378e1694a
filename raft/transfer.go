// Leadership transfer (thesis §3.10): the leader stops taking proposals, brings the target's log
// up to date, then tells it to start an election at once with MsgTimeoutNow. The target's log is
// as up to date as any, and its higher term deposes the old leader. If no new leader has taken
// over within an election timeout, the transfer is abandoned and proposals resume.

package raft

import "fmt"

// TransferLeadership asks the leader to hand leadership to the given voter (thesis §3.10).
// Asking it to transfer to itself cancels a transfer in progress.
func (n *Node) TransferLeadership(to uint64) error {
	if n.role != Leader {
		return &NotLeaderError{Leader: n.lead}
	}
	if to == n.id {
		n.abortLeaderTransfer()
		return nil
	}
	pr := n.prs[to]
	if pr == nil || pr.learner {
		return fmt.Errorf("raft: transfer leadership to %d: it is not a voter; pick one of %v", to, n.conf.voters)
	}
	if n.leadTransferee == to {
		return nil
	}
	n.leadTransferee = to
	// The transfer gets one election timeout, counted by the leader's election clock.
	n.electionElapsed = 0
	if pr.match == n.log.lastIndex() {
		n.sendTimeoutNow(to)
		return nil
	}
	// Send even if nothing new is due: an empty append exposes any gap left by lost messages.
	n.sendAppends(to, true)
	return nil
}

func (n *Node) sendTimeoutNow(to uint64) {
	n.send(Message{To: to, Type: MsgTimeoutNow})
}

func (n *Node) abortLeaderTransfer() { n.leadTransferee = None }
