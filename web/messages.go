// The websocket messages: JSON objects with a "type", one per websocket text message. This file is
// the Go side of the "Websocket protocol" section of docs/protocol.md; keep the two in step.
package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kanna-cluster/kanna/proto/kannapb"
)

// Message types a browser sends.
const (
	typeHello        = "hello"
	typeListRooms    = "list_rooms"
	typeCreateRoom   = "create_room"
	typeJoinRoom     = "join_room"
	typeWatchRoom    = "watch_room"
	typeGuess        = "guess"
	typeNewRound     = "new_round"
	typeWatchCluster = "watch_cluster"
	typeControl      = "control"
)

// Message types the server sends.
const (
	typeWelcome = "welcome"
	typeOK      = "ok"
	typeError   = "error"
	typeRoom    = "room"
	typeRooms   = "rooms"
	typeCluster = "cluster"
	typeEvents  = "events"
	typeHealth  = "health"
)

// Error codes the server sends in an "error" message. The first six mirror the gRPC codes a node
// answered with (docs/protocol.md, "Status codes"); the rest are the web server's own.
const (
	codeInvalidArgument    = "invalid_argument"
	codeNotFound           = "not_found"
	codeAlreadyExists      = "already_exists"
	codeFailedPrecondition = "failed_precondition"
	codeUnavailable        = "unavailable"
	codeUnauthenticated    = "unauthenticated"
	codeBadMessage         = "bad_message"
	codeRateLimited        = "rate_limited"
	codeBusy               = "busy"
	codeInternal           = "internal"
	codeSessionExpired     = "session_expired"
	codeResourceExhausted  = "resource_exhausted"
	codePermissionDenied   = "permission_denied"
)

// Control actions of the dashboard.
const (
	actionCrash   = "crash"
	actionRestart = "restart"
	actionIsolate = "isolate"
	actionHeal    = "heal"
)

// request is any message a browser sends; which fields matter depends on Type.
type request struct {
	Type     string `json:"type"`
	Seq      uint64 `json:"seq"`
	ClientID string `json:"client_id"`
	Room     string `json:"room"`
	Player   string `json:"player"`
	Letter   string `json:"letter"`
	Action   string `json:"action"`
	Node     uint64 `json:"node"`
	// ControlKey (hello): the control key, for a client that cannot carry the cookie.
	ControlKey string `json:"control_key"`
	// Token (join_room, watch_room with a player): the player's secret, kept by the page.
	Token string `json:"token"`

	// refusal is why the reader refused the message; the worker answers it in its turn, so that
	// answers keep the order of the requests.
	refusal *badMessage
}

// clientIDPattern is what a browser may call itself: the page draws 16 random bytes and writes
// them in base64url, and anything of that alphabet and a sane length is accepted. The game allows
// up to 64 bytes; 48 keeps the id a browser sends well inside that.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,48}$`)

// badMessage is a message that is refused before anything happens.
type badMessage struct{ code, msg string }

func (e *badMessage) Error() string { return e.msg }

func refuse(code, format string, args ...any) *badMessage {
	return &badMessage{code: code, msg: fmt.Sprintf(format, args...)}
}

// parseRequest decodes and checks one browser message. It checks what a node would refuse anyway
// (names, letters) so that a typo costs no round trip, and everything a node cannot check (fields
// that belong to another type, a missing seq).
func parseRequest(data []byte) (request, *badMessage) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, refuse(codeBadMessage, "message is not a JSON object of the websocket protocol: %v; see docs/protocol.md", err)
	}
	if dec.More() {
		return r, refuse(codeBadMessage, "message holds more than one JSON value; send one object per websocket message")
	}
	if r.Type != typeHello && r.Seq == 0 {
		return r, refuse(codeBadMessage, "message of type %q has no seq; number requests 1, 2, 3... per client", r.Type)
	}
	switch r.Type {
	case typeHello:
		if !clientIDPattern.MatchString(r.ClientID) {
			return r, refuse(codeInvalidArgument, "client_id %q must be 8 to 48 characters of A-Z, a-z, 0-9, _ and -", r.ClientID)
		}
	case typeListRooms, typeNewRound, typeWatchCluster:
	case typeCreateRoom:
		return r, checkName("room", r.Room)
	case typeWatchRoom:
		if bad := checkName("room", r.Room); bad != nil {
			return r, bad
		}
		if r.Player != "" {
			if bad := checkName("player", r.Player); bad != nil {
				return r, bad
			}
		}
		return r, checkToken(r.Token)
	case typeJoinRoom:
		if bad := checkName("room", r.Room); bad != nil {
			return r, bad
		}
		if bad := checkName("player", r.Player); bad != nil {
			return r, bad
		}
		return r, checkToken(r.Token)
	case typeGuess:
		if len(r.Letter) != 1 || !('a' <= r.Letter[0] && r.Letter[0] <= 'z' || 'A' <= r.Letter[0] && r.Letter[0] <= 'Z') {
			return r, refuse(codeInvalidArgument, "letter %q must be exactly one of a-z", r.Letter)
		}
		r.Letter = strings.ToLower(r.Letter)
	case typeControl:
		switch r.Action {
		case actionCrash, actionRestart, actionIsolate:
			if r.Node == 0 {
				return r, refuse(codeInvalidArgument, "control %q needs the node id in \"node\"", r.Action)
			}
		case actionHeal:
		default:
			return r, refuse(codeInvalidArgument, "control action %q is not one of crash, restart, isolate, heal", r.Action)
		}
	default:
		return r, refuse(codeBadMessage, "unknown message type %q; see docs/protocol.md for the types a browser may send", r.Type)
	}
	return r, nil
}

// tokenPattern is a player token as the page draws it: 16 random bytes in base64url.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// checkToken checks an optional player token.
func checkToken(tok string) *badMessage {
	if tok != "" && !tokenPattern.MatchString(tok) {
		return refuse(codeInvalidArgument, "token must be 16 to 64 characters of A-Z, a-z, 0-9, _ and -")
	}
	return nil
}

// checkName applies the game's rule for room and player names (game.validateName): 1 to 32
// printable characters, no space at either end.
func checkName(what, name string) *badMessage {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n < 1 || n > 32 {
		return refuse(codeInvalidArgument, "%s name must be 1 to 32 characters, got %d", what, n)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return refuse(codeInvalidArgument, "%s name holds the unprintable character %U", what, r)
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' {
		return refuse(codeInvalidArgument, "%s name %q must not start or end with a space", what, name)
	}
	return nil
}

// The messages the server sends.

type welcomeMsg struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id"`
	Control  bool   `json:"control"` // crash and restart are available to this socket
	Levers   bool   `json:"levers"`  // this socket may send control requests at all
}

type okMsg struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	Room string `json:"room,omitempty"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Room    string `json:"room,omitempty"`
}

type roomMsg struct {
	Type  string   `json:"type"`
	State roomJSON `json:"state"`
}

type roomsMsg struct {
	Type        string     `json:"type"`
	Seq         uint64     `json:"seq"`
	Rooms       []roomJSON `json:"rooms"`
	ServedBy    uint64     `json:"served_by"`
	CommitIndex uint64     `json:"commit_index"`
}

// roomJSON is kannapb.RoomState with the status as a word.
type roomJSON struct {
	Room        string       `json:"room"`
	MaskedWord  string       `json:"masked_word"`
	LivesLeft   uint32       `json:"lives_left"`
	MaxLives    uint32       `json:"max_lives"`
	Guessed     []string     `json:"guessed_letters"`
	Status      string       `json:"status"`
	Players     []playerJSON `json:"players"`
	Round       uint64       `json:"round"`
	Word        string       `json:"word,omitempty"`
	ServedBy    uint64       `json:"served_by"`
	CommitIndex uint64       `json:"commit_index"`
	Version     uint64       `json:"version"`
}

type playerJSON struct {
	Name  string `json:"name"`
	Score int64  `json:"score"`
}

func roomToJSON(s *kannapb.RoomState) roomJSON {
	r := roomJSON{
		Room: s.GetRoom(), MaskedWord: s.GetMaskedWord(), LivesLeft: s.GetLivesLeft(), MaxLives: s.GetMaxLives(),
		Guessed: append([]string{}, s.GetGuessedLetters()...), Status: statusWord(s.GetStatus()),
		Players: []playerJSON{}, Round: s.GetRound(), Word: s.GetWord(), ServedBy: s.GetServedBy(),
		CommitIndex: s.GetCommitIndex(), Version: s.GetVersion(),
	}
	for _, p := range s.GetPlayers() {
		r.Players = append(r.Players, playerJSON{Name: p.GetName(), Score: p.GetScore()})
	}
	return r
}

func statusWord(s kannapb.RoundStatus) string {
	switch s {
	case kannapb.RoundStatus_ROUND_STATUS_PLAYING:
		return "playing"
	case kannapb.RoundStatus_ROUND_STATUS_WON:
		return "won"
	case kannapb.RoundStatus_ROUND_STATUS_LOST:
		return "lost"
	}
	return "unknown"
}

// encode marshals a server message; every type above marshals without error.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("web: encode %T: %v", v, err))
	}
	return b
}
