// What the server does for each browser request: game writes forwarded to the cluster with the
// browser's request id, reads, and the dashboard's levers.
//
// A write carries (client_id, seq) from the browser unchanged, and is retried on another node with
// the same pair when a node cannot answer (Raft paper §8; thesis §6.3): the state machine applies
// it once, so a guess sent twice, by a retry here or by a browser resending after a reconnect,
// still counts once.
package web

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// handle carries out one request and answers it with "ok", a reply of its own, or "error".
func (c *conn) handle(req request) {
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.CallTimeout)
	defer cancel()
	if req.refusal != nil {
		c.reply(encode(errorMsg{Type: typeError, Seq: req.Seq, Code: req.refusal.code, Message: req.refusal.msg}))
		return
	}
	if req.Type == typeHello {
		c.hello(req)
		return
	}
	var err error
	switch req.Type {
	case typeListRooms:
		err = c.listRooms(ctx, req)
	case typeCreateRoom, typeJoinRoom, typeGuess, typeNewRound:
		err = c.write(ctx, req)
	case typeWatchRoom:
		// Watching is not a write: a page that reconnects watches its room again first, then
		// resends the writes it had no answer to, in their seq order.
		c.token = req.Token
		c.enter(req.Room, req.Player)
		c.ok(req, req.Room)
		c.srv.dash.sendHealth(c)
	case typeWatchCluster:
		c.mu.Lock()
		c.cluster = true
		c.mu.Unlock()
		c.srv.dash.subscribe(c)
		if c.closed() {
			c.srv.dash.unsubscribe(c)
		}
		c.ok(req, "")
		c.srv.dash.sendHealth(c)
	case typeControl:
		switch {
		case c.clientID == "":
			err = refuse(codeBadMessage, "send \"hello\" with a client_id before %q", req.Type)
		case !c.control:
			err = refuse(codeUnauthenticated, "this socket may not control nodes: open the dashboard URL kanna demo printed (it carries the control key), by a loopback address")
		default:
			err = c.srv.dash.control(ctx, req)
		}
		if err == nil {
			c.ok(req, "")
		}
	}
	if err != nil {
		c.fail(req, err)
	}
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) ok(req request, room string) {
	c.reply(encode(okMsg{Type: typeOK, Seq: req.Seq, Room: room}))
}

// fail answers req with an error message whose code says what the browser can do about it.
func (c *conn) fail(req request, err error) {
	var bad *badMessage
	if errors.As(err, &bad) {
		c.reply(encode(errorMsg{Type: typeError, Seq: req.Seq, Code: bad.code, Message: bad.msg, Room: req.Room}))
		return
	}
	code := codeInternal
	switch status.Code(err) {
	case codes.InvalidArgument:
		code = codeInvalidArgument
	case codes.NotFound:
		code = codeNotFound
	case codes.AlreadyExists:
		code = codeAlreadyExists
	case codes.FailedPrecondition:
		code = codeFailedPrecondition
	case codes.Unauthenticated:
		code = codeUnauthenticated
	case codes.Aborted:
		code = codeSessionExpired
	case codes.ResourceExhausted:
		code = codeResourceExhausted
	case codes.PermissionDenied:
		code = codePermissionDenied
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		code = codeUnavailable
	}
	msg := err.Error()
	if s, ok := status.FromError(err); ok {
		msg = s.Message()
	}
	if code == codeUnavailable {
		// gRPC's words ("context deadline exceeded") mean nothing to a player.
		msg = "the cluster did not answer in time: it may be electing a leader, or fewer than a majority of its nodes are up; try again"
	}
	c.reply(encode(errorMsg{Type: typeError, Seq: req.Seq, Code: code, Message: msg, Room: req.Room}))
}

// hello names the browser's session. A page keeps its client id for its whole life, so that after a
// reconnect it can resend a request it had no answer to under the same (client_id, seq).
func (c *conn) hello(req request) {
	if c.clientID != "" && c.clientID != req.ClientID {
		c.fail(req, refuse(codeInvalidArgument, "this connection is already client %q; open a new connection for another client id", c.clientID))
		return
	}
	c.clientID = req.ClientID
	if req.ControlKey != "" && keyMatches(req.ControlKey, c.srv.cfg.ControlKey) && (c.srv.cfg.RemoteControl || c.loopback) {
		c.control = true
	}
	c.reply(encode(welcomeMsg{Type: typeWelcome, ClientID: c.clientID, Control: c.control && c.srv.cfg.Control != nil, Levers: c.control}))
}

func (c *conn) listRooms(ctx context.Context, req request) error {
	resp, _, err := call(ctx, c.srv.pool, c.srv.attemptTimeout(), func(ctx context.Context, n *node) (*kannapb.ListRoomsResponse, error) {
		return n.game.ListRooms(ctx, &kannapb.ListRoomsRequest{})
	})
	if err != nil {
		return err
	}
	msg := roomsMsg{Type: typeRooms, Seq: req.Seq, Rooms: []roomJSON{}, ServedBy: resp.GetServedBy(), CommitIndex: resp.GetCommitIndex()}
	for _, r := range resp.GetRooms() {
		msg.Rooms = append(msg.Rooms, roomToJSON(r))
	}
	c.reply(encode(msg))
	return nil
}

// write forwards one game command. Joining a room also makes this browser one of the room's
// viewers; joining another room leaves the first.
func (c *conn) write(ctx context.Context, req request) error {
	if c.clientID == "" {
		return refuse(codeBadMessage, "send \"hello\" with a client_id before %q", req.Type)
	}
	c.mu.Lock()
	room, player := c.room, c.player
	c.mu.Unlock()
	if (req.Type == typeGuess || req.Type == typeNewRound) && room == "" {
		return refuse(codeFailedPrecondition, "join a room before %q", req.Type)
	}
	if req.Type == typeCreateRoom && !c.srv.mayCreate(c) {
		return refuse(codeRateLimited, "too many rooms created from this page or this address; join an existing room, or create one in a minute")
	}
	id, seq, token := c.clientID, req.Seq, c.token
	if req.Type == typeJoinRoom {
		token = req.Token
	}
	state, _, err := call(ctx, c.srv.pool, c.srv.attemptTimeout(), func(ctx context.Context, n *node) (*kannapb.RoomState, error) {
		switch req.Type {
		case typeCreateRoom:
			return n.game.CreateRoom(ctx, &kannapb.CreateRoomRequest{ClientId: id, Seq: seq, Room: req.Room})
		case typeJoinRoom:
			return n.game.JoinRoom(ctx, &kannapb.JoinRoomRequest{ClientId: id, Seq: seq, Room: req.Room, Player: req.Player, Token: token})
		case typeGuess:
			return n.game.Guess(ctx, &kannapb.GuessRequest{ClientId: id, Seq: seq, Room: room, Player: player, Letter: req.Letter, Token: token})
		default:
			return n.game.NewRound(ctx, &kannapb.NewRoundRequest{ClientId: id, Seq: seq, Room: room})
		}
	})
	// A player with a token comes back (a reload, a reconnect) with OK from the node; another
	// browser with another token gets AlreadyExists, and does not take the name over. Only a
	// page that sends no token is let in as the player of that name, as before tokens.
	if req.Type == typeJoinRoom && req.Token == "" && status.Code(err) == codes.AlreadyExists {
		err = nil
	}
	if err != nil {
		return err
	}
	if req.Type == typeJoinRoom {
		c.token = req.Token
		c.enter(req.Room, req.Player)
	}
	if state != nil {
		c.srv.hub.publish(state)
	}
	if req.Room != "" {
		room = req.Room
	}
	c.ok(req, room)
	return nil
}

// enter makes this browser a viewer of room, leaving the room it was in.
func (c *conn) enter(room, player string) {
	c.mu.Lock()
	prev := c.room
	c.room, c.player = room, player
	c.mu.Unlock()
	if prev != "" && prev != room {
		c.srv.hub.unsubscribe(c, prev)
	}
	if prev != room {
		c.srv.hub.subscribe(c, room)
	}
	if c.closed() {
		c.srv.hub.unsubscribe(c, room)
	}
}
