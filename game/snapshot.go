// Snapshots of the whole Hangman state, sessions included (Raft paper §7: the state machine's
// current state replaces the log prefix it summarises; thesis §6.3: the sessions must be in the
// snapshot too, or a retry after a restore would apply twice).
//
// The encoding (snapshot_codec.go) is canonical: rooms sorted by name, sessions by client id, every
// field in a fixed order. Two replicas with the same state produce the same bytes, which is what
// lets the tests and the simulator's checkers compare replicas by comparing snapshots.

package game

import (
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// snapshotData is the whole state as plain data, for both encodings; the JSON tags are version
// 1's field names.
type snapshotData struct {
	Version  int           `json:"version"`
	Applies  uint64        `json:"applies"`
	Now      int64         `json:"now,omitempty"`
	Swept    int64         `json:"swept,omitempty"`
	Rooms    []roomData    `json:"rooms"`
	Sessions []sessionData `json:"sessions"`
}

type roomData struct {
	Name    string       `json:"name"`
	Word    string       `json:"word"`
	Round   uint64       `json:"round"`
	Lives   int          `json:"lives"`
	Guessed string       `json:"guessed"`
	Status  Status       `json:"status"`
	Players []playerData `json:"players"`
	Version uint64       `json:"version,omitempty"`
	Active  int64        `json:"active,omitempty"`
}

type playerData struct {
	Name  string `json:"name"`
	Score int    `json:"score"`
	Token string `json:"token,omitempty"`
}

type sessionData struct {
	ClientID  string `json:"client_id"`
	Seq       uint64 `json:"seq"`
	LastApply uint64 `json:"last_apply"`
	Active    int64  `json:"active,omitempty"`
	Expired   bool   `json:"expired,omitempty"`
	Result    Result `json:"result"`
}

// Snapshot returns the whole state as canonical bytes.
func (s *State) Snapshot() []byte {
	d := snapshotData{
		Version:  snapshotVersion,
		Applies:  s.applies,
		Now:      s.now,
		Swept:    s.swept,
		Rooms:    make([]roomData, 0, len(s.rooms)),
		Sessions: make([]sessionData, 0, len(s.sessions)),
	}
	for _, name := range s.RoomNames() {
		r := s.rooms[name]
		rd := roomData{Name: r.name, Word: r.word, Round: r.round, Lives: r.lives,
			Guessed: string(r.guessed), Status: r.status, Players: make([]playerData, len(r.players)),
			Version: r.version, Active: r.active}
		for i, p := range r.players {
			rd.Players[i] = playerData{Name: p.name, Score: p.score, Token: p.token}
		}
		d.Rooms = append(d.Rooms, rd)
	}
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sess := s.sessions[id]
		d.Sessions = append(d.Sessions, sessionData{ClientID: id, Seq: sess.Seq, LastApply: sess.LastApply,
			Active: sess.Active, Expired: sess.Expired, Result: sess.Result})
	}
	return appendSnapshot(make([]byte, 0, 64+64*len(d.Rooms)+256*len(d.Sessions)), &d)
}

// Restore replaces the whole state with the one data holds, in either encoding version. It checks
// the snapshot thoroughly and, on any error, leaves the state as it was: a replica must not run on
// half a snapshot.
func (s *State) Restore(data []byte) error {
	d, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	if len(d.Rooms) > MaxRooms || len(d.Sessions) > MaxSessions {
		return fmt.Errorf("game: restore snapshot: %d rooms and %d sessions exceed the limits %d and %d",
			len(d.Rooms), len(d.Sessions), MaxRooms, MaxSessions)
	}
	rooms := make(map[string]*room, len(d.Rooms))
	for _, rd := range d.Rooms {
		r, err := restoreRoom(rd)
		if err != nil {
			return fmt.Errorf("game: restore snapshot: room %q: %s", rd.Name, reason(err))
		}
		if _, dup := rooms[r.name]; dup {
			return fmt.Errorf("game: restore snapshot: room %q appears twice", r.name)
		}
		rooms[r.name] = r
	}
	sessions := make(map[string]*session, len(d.Sessions))
	lastApplies := make(map[uint64]bool, len(d.Sessions))
	for _, sd := range d.Sessions {
		if err := validateClientID(sd.ClientID); err != nil {
			return fmt.Errorf("game: restore snapshot: session: %s", reason(err))
		}
		if _, dup := sessions[sd.ClientID]; dup {
			return fmt.Errorf("game: restore snapshot: session of client %q appears twice", sd.ClientID)
		}
		if sd.Seq == 0 || sd.LastApply == 0 || sd.LastApply > d.Applies || lastApplies[sd.LastApply] {
			return fmt.Errorf("game: restore snapshot: session of client %q has seq %d and last apply %d of %d; they must be positive, distinct and not beyond the apply count",
				sd.ClientID, sd.Seq, sd.LastApply, d.Applies)
		}
		lastApplies[sd.LastApply] = true
		if sd.Active > d.Now {
			return fmt.Errorf("game: restore snapshot: session of client %q was active at %d, after the log's clock %d", sd.ClientID, sd.Active, d.Now)
		}
		if err := checkResultText(&sd.Result); err != nil {
			return fmt.Errorf("game: restore snapshot: the answer kept for client %q: %s", sd.ClientID, reason(err))
		}
		sessions[sd.ClientID] = &session{Seq: sd.Seq, LastApply: sd.LastApply, Active: sd.Active, Expired: sd.Expired, Result: sd.Result}
	}
	s.rooms, s.sessions, s.applies, s.now, s.swept = rooms, sessions, d.Applies, d.Now, d.Swept
	return nil
}

// restoreRoom rebuilds one room and checks that its fields agree with each other the way Apply
// keeps them: the lives left match the misses, and the status matches the lives and the mask.
func restoreRoom(rd roomData) (*room, error) {
	if err := validateName("room", rd.Name); err != nil {
		return nil, err
	}
	if err := ValidateWord(rd.Word); err != nil {
		return nil, err
	}
	if rd.Round == 0 {
		return nil, errors.New("round must be at least 1")
	}
	r := &room{name: rd.Name, word: rd.Word, round: rd.Round, lives: rd.Lives, status: rd.Status,
		version: rd.Version, active: rd.Active}
	misses := 0
	for i := 0; i < len(rd.Guessed); i++ {
		c := rd.Guessed[i]
		if c < 'a' || c > 'z' || r.hasGuessed(c) {
			return nil, fmt.Errorf("guessed letters %q must be distinct letters a-z", rd.Guessed)
		}
		r.guessed = append(r.guessed, c)
		if !containsByte(r.word, c) {
			misses++
		}
	}
	if rd.Lives != Lives-misses || rd.Lives < 0 {
		return nil, fmt.Errorf("%d lives left after %d misses; a round allows %d misses", rd.Lives, misses, Lives)
	}
	want := Playing
	switch {
	case rd.Lives == 0:
		want = Lost
	case r.allRevealed():
		want = Won
	}
	if rd.Status != want {
		return nil, fmt.Errorf("status %s with %d lives left and mask %q; expected %s", rd.Status, rd.Lives, r.view().Masked, want)
	}
	if len(rd.Players) > MaxPlayersPerRoom {
		return nil, fmt.Errorf("%d players exceed the limit of %d", len(rd.Players), MaxPlayersPerRoom)
	}
	for _, p := range rd.Players {
		if err := validateName("player", p.Name); err != nil {
			return nil, err
		}
		if r.player(p.Name) != nil {
			return nil, fmt.Errorf("player %q appears twice", p.Name)
		}
		if p.Score < 0 {
			return nil, fmt.Errorf("player %q has negative score %d", p.Name, p.Score)
		}
		if err := validateToken(p.Token); err != nil {
			return nil, fmt.Errorf("player %q: %s", p.Name, reason(err))
		}
		r.players = append(r.players, player{name: p.Name, score: p.Score, token: p.Token})
	}
	return r, nil
}

// checkResultText refuses an answer holding text that is not UTF-8: Apply never keeps one (failed
// makes the echoed fields valid), and a server could not send it.
func checkResultText(r *Result) error {
	if err := checkUTF8(string(r.Kind), r.Room, r.Player, r.Letter); err != nil {
		return err
	}
	if r.Err != nil {
		if err := checkUTF8(r.Err.Message); err != nil {
			return err
		}
	}
	if v := r.State; v != nil {
		if err := checkUTF8(v.Name, v.Masked, v.Word, v.Guessed, v.Misses); err != nil {
			return err
		}
		for _, p := range v.Players {
			if err := checkUTF8(p.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkUTF8(texts ...string) error {
	for _, t := range texts {
		if !utf8.ValidString(t) {
			return fmt.Errorf("text %q is not valid UTF-8", t)
		}
	}
	return nil
}

// reason is what err says without the "game: " that a rejection's Error starts with, for a
// restore error that starts with it already. A bad snapshot is not the rejection of a command,
// so the rejection's Code is not kept either.
func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
