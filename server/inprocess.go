// What a program that hosts a node in its own process uses besides gRPC: the node's Game service
// as a Go value, so that `kanna bench --inprocess` proposes through the engine with no client hop,
// and the conversions between the game and the service's messages, so that a peer system serving
// the same Game service (tests/peers/hashiraft) reads and answers the very same messages.
package server

import (
	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// GameServer returns the node's Game service. Its calls behave as over gRPC (writes go through the
// leader, retried across leader changes within the context's deadline) but run in the caller's
// goroutine.
func (n *Node) GameServer() kannapb.GameServer { return &gameService{n: n} }

// Term returns the last term the node's loop saw.
func (n *Node) Term() uint64 { return n.term.Load() }

// RoomState converts a room as the game shows it to the Game service's message; servedBy and
// commitIndex say which node answered and at which applied index.
func RoomState(v game.RoomView, servedBy, commitIndex uint64) *kannapb.RoomState {
	return roomState(v, servedBy, commitIndex)
}

// WriteCommand is the game command a write request of the Game service carries (a
// *kannapb.CreateRoomRequest, JoinRoomRequest, GuessRequest or NewRoundRequest); false for any other
// message. It is the one mapping from those requests to the game, which the unary calls, Game.Play
// and the peer system all use, so that no field is carried by one path and dropped by another.
func WriteCommand(req any) (game.Command, bool) {
	switch q := req.(type) {
	case *kannapb.CreateRoomRequest:
		return game.Command{Kind: game.KindCreateRoom, ClientID: q.GetClientId(), Seq: q.GetSeq(), Room: q.GetRoom()}, true
	case *kannapb.JoinRoomRequest:
		return game.Command{Kind: game.KindJoin, ClientID: q.GetClientId(), Seq: q.GetSeq(), Room: q.GetRoom(), Player: q.GetPlayer(), Token: q.GetToken()}, true
	case *kannapb.GuessRequest:
		return game.Command{Kind: game.KindGuess, ClientID: q.GetClientId(), Seq: q.GetSeq(), Room: q.GetRoom(), Player: q.GetPlayer(), Letter: q.GetLetter(), Token: q.GetToken()}, true
	case *kannapb.NewRoundRequest:
		return game.Command{Kind: game.KindNewRound, ClientID: q.GetClientId(), Seq: q.GetSeq(), Room: q.GetRoom()}, true
	}
	return game.Command{}, false
}

// PlayCommand is the game command a Game.Play request holds; false when it holds none.
func PlayCommand(req *kannapb.PlayRequest) (game.Command, bool) {
	cmd, _, ok := playWrite(req)
	return cmd, ok
}

// PlayReply is the reply to call id of a Game.Play stream: st, or the status of err when err is
// set.
func PlayReply(id uint64, st *kannapb.RoomState, err error) *kannapb.PlayReply {
	return playReply(id, st, err)
}

// ErrNoWrite answers a Game.Play request that holds no write.
var ErrNoWrite = errNoWrite
