// Conversions between the Raft core's types (raft/types.go) and their wire form (raft.proto), and
// from the game's views to the Game service's messages.
//
// RaftMessage mirrors raft.Message field for field (Raft paper Figure 2: AppendEntries and
// RequestVote; §7: InstallSnapshot), so each conversion is a plain copy. The only translation is
// the enums: on the wire 0 means "unset", so each core value travels as itself plus one, and a
// receiver refuses a message whose type or entry type is unset or unknown.
package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
	"github.com/kanna-cluster/kanna/raft"
)

// numMessageTypes and numEntryTypes bound the core's enums, for checking what arrives.
const (
	numMessageTypes = uint8(raft.MsgTimeoutNow) + 1
	numEntryTypes   = uint8(raft.EntryConfChange) + 1
)

// toProto converts a core message for the wire.
func toProto(m raft.Message) *kannapb.RaftMessage {
	pm := &kannapb.RaftMessage{
		Type:         kannapb.RaftMessageType(m.Type + 1),
		From:         m.From,
		To:           m.To,
		Term:         m.Term,
		Index:        m.Index,
		LogTerm:      m.LogTerm,
		Commit:       m.Commit,
		Reject:       m.Reject,
		RejectHint:   m.RejectHint,
		ConflictTerm: m.ConflictTerm,
		Offset:       m.Offset,
		Done:         m.Done,
		Context:      m.Context,
		Recovering:   m.Recovering,
	}
	if len(m.Entries) > 0 {
		pm.Entries = make([]*kannapb.RaftEntry, len(m.Entries))
		for i, e := range m.Entries {
			pm.Entries[i] = &kannapb.RaftEntry{Term: e.Term, Index: e.Index, Type: kannapb.RaftEntryType(e.Type + 1), Data: e.Data}
		}
	}
	if s := m.Snapshot; s != nil {
		pm.Snapshot = &kannapb.RaftSnapshot{
			Meta: &kannapb.RaftSnapshotMeta{
				Index: s.Meta.Index, Term: s.Meta.Term,
				ConfState: &kannapb.RaftConfState{Voters: s.Meta.ConfState.Voters, Learners: s.Meta.ConfState.Learners},
			},
			Data: s.Data,
		}
	}
	return pm
}

// fromProto converts a message from the wire, refusing one no core could have sent.
func fromProto(pm *kannapb.RaftMessage) (raft.Message, error) {
	t := uint8(pm.GetType())
	if t == 0 || t > numMessageTypes {
		return raft.Message{}, fmt.Errorf("raft message from node %d has type %d, which is unset or unknown; are both nodes the same version?", pm.GetFrom(), t)
	}
	if pm.GetFrom() == 0 {
		return raft.Message{}, fmt.Errorf("raft message of type %s has from = 0; every node sends its own non-zero id", raft.MessageType(t-1))
	}
	m := raft.Message{
		Type:         raft.MessageType(t - 1),
		From:         pm.GetFrom(),
		To:           pm.GetTo(),
		Term:         pm.GetTerm(),
		Index:        pm.GetIndex(),
		LogTerm:      pm.GetLogTerm(),
		Commit:       pm.GetCommit(),
		Reject:       pm.GetReject(),
		RejectHint:   pm.GetRejectHint(),
		ConflictTerm: pm.GetConflictTerm(),
		Offset:       pm.GetOffset(),
		Done:         pm.GetDone(),
		Context:      pm.GetContext(),
		Recovering:   pm.GetRecovering(),
	}
	if len(pm.GetEntries()) > 0 {
		m.Entries = make([]raft.Entry, len(pm.GetEntries()))
		for i, e := range pm.GetEntries() {
			et := uint8(e.GetType())
			if et == 0 || et > numEntryTypes {
				return raft.Message{}, fmt.Errorf("raft message from node %d: entry %d has type %d, which is unset or unknown", m.From, e.GetIndex(), et)
			}
			m.Entries[i] = raft.Entry{Term: e.GetTerm(), Index: e.GetIndex(), Type: raft.EntryType(et - 1), Data: e.GetData()}
		}
	}
	if s := pm.GetSnapshot(); s != nil {
		meta := s.GetMeta()
		m.Snapshot = &raft.Snapshot{
			Meta: raft.SnapshotMeta{
				Index: meta.GetIndex(), Term: meta.GetTerm(),
				ConfState: raft.ConfState{Voters: meta.GetConfState().GetVoters(), Learners: meta.GetConfState().GetLearners()},
			},
			Data: s.GetData(),
		}
	}
	return m, nil
}

// roomState converts a room as the game shows it into the Game service's message.
func roomState(v game.RoomView, servedBy, commitIndex uint64) *kannapb.RoomState {
	guessed := make([]string, 0, len(v.Guessed))
	for _, c := range v.Guessed {
		guessed = append(guessed, string(c))
	}
	slices.Sort(guessed)
	players := make([]*kannapb.Player, len(v.Players))
	for i, p := range v.Players {
		players[i] = &kannapb.Player{Name: p.Name, Score: int64(p.Score)}
	}
	slices.SortFunc(players, func(a, b *kannapb.Player) int { return strings.Compare(a.Name, b.Name) })
	return &kannapb.RoomState{
		Room:           v.Name,
		MaskedWord:     v.Masked,
		LivesLeft:      uint32(max(v.Lives, 0)),
		MaxLives:       game.Lives,
		GuessedLetters: guessed,
		Status:         roundStatus(v.Status),
		Players:        players,
		Round:          v.Round,
		Word:           v.Word,
		ServedBy:       servedBy,
		CommitIndex:    commitIndex,
		Version:        v.Version,
	}
}

func roundStatus(s game.Status) kannapb.RoundStatus {
	switch s {
	case game.Playing:
		return kannapb.RoundStatus_ROUND_STATUS_PLAYING
	case game.Won:
		return kannapb.RoundStatus_ROUND_STATUS_WON
	case game.Lost:
		return kannapb.RoundStatus_ROUND_STATUS_LOST
	}
	return kannapb.RoundStatus_ROUND_STATUS_UNSPECIFIED
}

func nodeRole(r raft.Role) kannapb.NodeRole {
	switch r {
	case raft.Follower:
		return kannapb.NodeRole_NODE_ROLE_FOLLOWER
	case raft.PreCandidate:
		return kannapb.NodeRole_NODE_ROLE_PRE_CANDIDATE
	case raft.Candidate:
		return kannapb.NodeRole_NODE_ROLE_CANDIDATE
	case raft.Leader:
		return kannapb.NodeRole_NODE_ROLE_LEADER
	}
	return kannapb.NodeRole_NODE_ROLE_UNSPECIFIED
}
