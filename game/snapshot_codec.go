// The bytes of a snapshot (snapshot.go): version 2, binary, which Snapshot writes, and version 1,
// JSON, which Restore still reads from the logs and snapshot files that earlier versions wrote.
//
// Version 2 is the version byte, then every field of snapshotData in the order the structs declare
// them: unsigned numbers as uvarints, signed ones as zig-zag varints, strings as their length
// (uvarint) and bytes, a bool or a nil-or-not pointer as one byte 0 or 1, a Status or a Code as one
// byte, a slice as its length and then its elements. A node restores a snapshot at every restart and
// every InstallSnapshot; decoding JSON with reflection was most of that cost.
//
// Every state has exactly one encoding: the decoder refuses numbers padded with zero bytes, flags
// other than 0 and 1, rooms and sessions out of order, trailing bytes and truncation.

package game

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Snapshot encoding versions: the first byte of a version 2 snapshot, and the "version" field of a
// JSON one, which starts with '{' and so never meets version 2.
const (
	snapshotVersion     = 2
	snapshotVersionJSON = 1
)

// appendSnapshot appends d's version 2 encoding to b.
func appendSnapshot(b []byte, d *snapshotData) []byte {
	b = append(b, byte(d.Version))
	b = binary.AppendUvarint(b, d.Applies)
	b = binary.AppendVarint(b, d.Now)
	b = binary.AppendVarint(b, d.Swept)
	b = binary.AppendUvarint(b, uint64(len(d.Rooms)))
	for i := range d.Rooms {
		b = appendRoom(b, &d.Rooms[i])
	}
	b = binary.AppendUvarint(b, uint64(len(d.Sessions)))
	for i := range d.Sessions {
		b = appendSession(b, &d.Sessions[i])
	}
	return b
}

func appendRoom(b []byte, r *roomData) []byte {
	b = appendString(b, r.Name)
	b = appendString(b, r.Word)
	b = binary.AppendUvarint(b, r.Round)
	b = binary.AppendVarint(b, int64(r.Lives))
	b = appendString(b, r.Guessed)
	b = append(b, byte(r.Status))
	b = binary.AppendUvarint(b, uint64(len(r.Players)))
	for _, p := range r.Players {
		b = appendString(b, p.Name)
		b = binary.AppendVarint(b, int64(p.Score))
		b = appendString(b, p.Token)
	}
	b = binary.AppendUvarint(b, r.Version)
	return binary.AppendVarint(b, r.Active)
}

func appendSession(b []byte, s *sessionData) []byte {
	b = appendString(b, s.ClientID)
	b = binary.AppendUvarint(b, s.Seq)
	b = binary.AppendUvarint(b, s.LastApply)
	b = binary.AppendVarint(b, s.Active)
	b = appendFlag(b, s.Expired)
	return appendResult(b, &s.Result)
}

func appendResult(b []byte, r *Result) []byte {
	b = appendString(b, string(r.Kind))
	b = appendString(b, r.Room)
	b = appendString(b, r.Player)
	b = binary.AppendUvarint(b, r.Round)
	b = appendFlag(b, r.Repeated)
	b = appendString(b, r.Letter)
	b = appendFlag(b, r.Hit)
	b = binary.AppendVarint(b, int64(r.Revealed))
	b = binary.AppendVarint(b, int64(r.Points))
	b = append(b, byte(r.Status))
	b = appendFlag(b, r.Err != nil)
	if r.Err != nil {
		b = append(b, byte(r.Err.Code))
		b = appendString(b, r.Err.Message)
	}
	b = appendFlag(b, r.State != nil)
	if v := r.State; v != nil {
		b = appendString(b, v.Name)
		b = binary.AppendUvarint(b, v.Round)
		b = append(b, byte(v.Status))
		b = appendString(b, v.Masked)
		b = appendString(b, v.Word)
		b = binary.AppendVarint(b, int64(v.Lives))
		b = appendString(b, v.Guessed)
		b = appendString(b, v.Misses)
		b = binary.AppendUvarint(b, uint64(len(v.Players)))
		for _, p := range v.Players {
			b = appendString(b, p.Name)
			b = binary.AppendVarint(b, int64(p.Score))
		}
		b = binary.AppendUvarint(b, v.Version)
	}
	return b
}

func appendFlag(b []byte, f bool) []byte {
	if f {
		return append(b, 1)
	}
	return append(b, 0)
}

// decodeSnapshot reads the fields of a snapshot of either version. It checks the encoding only;
// Restore checks that the fields make a state Apply could have reached.
func decodeSnapshot(data []byte) (snapshotData, error) {
	switch {
	case len(data) == 0:
		return snapshotData{}, errors.New("game: restore snapshot: empty; the snapshot is corrupt or from another program")
	case data[0] == snapshotVersion:
		return decodeBinarySnapshot(data)
	case data[0] == '{', data[0] == ' ', data[0] == '\t', data[0] == '\n', data[0] == '\r':
		return decodeJSONSnapshot(data)
	}
	return snapshotData{}, fmt.Errorf("game: restore snapshot: unknown encoding version %d in the first of %d bytes; this build reads version %d and the JSON of version %d",
		data[0], len(data), snapshotVersion, snapshotVersionJSON)
}

// decodeJSONSnapshot reads version 1, refusing unknown fields so that a snapshot of a newer
// version is not half-understood.
func decodeJSONSnapshot(data []byte) (snapshotData, error) {
	var d snapshotData
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return snapshotData{}, fmt.Errorf("game: restore snapshot of %d bytes: %w; the snapshot is corrupt or from another program", len(data), err)
	}
	if dec.More() {
		return snapshotData{}, fmt.Errorf("game: restore snapshot: trailing bytes after the snapshot in %d bytes; the snapshot is corrupt", len(data))
	}
	if d.Version != snapshotVersionJSON {
		return snapshotData{}, fmt.Errorf("game: restore snapshot: JSON of version %d; this build reads JSON of version %d only", d.Version, snapshotVersionJSON)
	}
	return d, nil
}

// decodeBinarySnapshot reads version 2.
func decodeBinarySnapshot(data []byte) (snapshotData, error) {
	d := snapshotDecoder{decoder{b: data[1:], canonical: true}}
	s := snapshotData{Version: int(data[0])}
	s.Applies = d.uvarint()
	s.Now = d.varint()
	s.Swept = d.varint()
	s.Rooms = make([]roomData, d.count("rooms", MaxRooms))
	for i := range s.Rooms {
		d.room(&s.Rooms[i])
		if i > 0 && d.err == nil && s.Rooms[i].Name <= s.Rooms[i-1].Name {
			d.err = fmt.Errorf("room %q after room %q; rooms must be sorted by name, each once", s.Rooms[i].Name, s.Rooms[i-1].Name)
		}
	}
	s.Sessions = make([]sessionData, d.count("sessions", MaxSessions))
	for i := range s.Sessions {
		d.session(&s.Sessions[i])
		if i > 0 && d.err == nil && s.Sessions[i].ClientID <= s.Sessions[i-1].ClientID {
			d.err = fmt.Errorf("session of client %q after that of %q; sessions must be sorted by client id, each once",
				s.Sessions[i].ClientID, s.Sessions[i-1].ClientID)
		}
	}
	switch {
	case d.err != nil:
		return snapshotData{}, fmt.Errorf("game: restore snapshot of %d bytes: %w; the snapshot is corrupt or from another program", len(data), d.err)
	case len(d.b) > 0:
		return snapshotData{}, fmt.Errorf("game: restore snapshot: %d trailing bytes after the snapshot in %d bytes; the snapshot is corrupt", len(d.b), len(data))
	}
	return s, nil
}

// snapshotDecoder adds to decoder what a snapshot holds beyond a command.
type snapshotDecoder struct{ decoder }

func (d *snapshotDecoder) room(r *roomData) {
	r.Name = d.string()
	r.Word = d.string()
	r.Round = d.uvarint()
	r.Lives = d.int()
	r.Guessed = d.string()
	r.Status = d.status()
	r.Players = make([]playerData, d.count("players", MaxPlayersPerRoom))
	for i := range r.Players {
		p := &r.Players[i]
		p.Name = d.string()
		p.Score = d.int()
		p.Token = d.string()
	}
	r.Version = d.uvarint()
	r.Active = d.varint()
}

func (d *snapshotDecoder) session(s *sessionData) {
	s.ClientID = d.string()
	s.Seq = d.uvarint()
	s.LastApply = d.uvarint()
	s.Active = d.varint()
	s.Expired = d.flag()
	d.result(&s.Result)
}

func (d *snapshotDecoder) result(r *Result) {
	r.Kind = Kind(d.string())
	r.Room = d.string()
	r.Player = d.string()
	r.Round = d.uvarint()
	r.Repeated = d.flag()
	r.Letter = d.string()
	r.Hit = d.flag()
	r.Revealed = d.int()
	r.Points = d.int()
	r.Status = d.status()
	if d.flag() {
		r.Err = &Error{}
		if c := d.u8(); int(c) < len(codeNames) {
			r.Err.Code = Code(c)
		} else if d.err == nil {
			d.err = fmt.Errorf("unknown error code %d", c)
		}
		r.Err.Message = d.string()
	}
	if d.flag() {
		v := &RoomView{}
		v.Name = d.string()
		v.Round = d.uvarint()
		v.Status = d.status()
		v.Masked = d.string()
		v.Word = d.string()
		v.Lives = d.int()
		v.Guessed = d.string()
		v.Misses = d.string()
		v.Players = make([]PlayerView, d.count("players", MaxPlayersPerRoom))
		for i := range v.Players {
			v.Players[i].Name = d.string()
			v.Players[i].Score = d.int()
		}
		v.Version = d.uvarint()
		r.State = v
	}
}

func (d *snapshotDecoder) u8() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errors.New("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *snapshotDecoder) flag() bool {
	switch c := d.u8(); c {
	case 0, 1:
		return c == 1
	default:
		if d.err == nil {
			d.err = fmt.Errorf("a flag of %d, not 0 or 1", c)
		}
		return false
	}
}

func (d *snapshotDecoder) status() Status {
	c := d.u8()
	if int(c) >= len(statusNames) {
		if d.err == nil {
			d.err = fmt.Errorf("unknown round status %d", c)
		}
		return 0
	}
	return Status(c)
}

// int reads a varint that must fit an int.
func (d *snapshotDecoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		if d.err == nil {
			d.err = fmt.Errorf("number %d out of range", v)
		}
		return 0
	}
	return int(v)
}

// count reads the length of a list of what, which Apply never lets grow beyond limit. Every
// element takes at least one byte, so a length beyond the bytes left is corrupt too. Refusing
// both before allocating keeps a corrupt length from costing more memory than a full state.
func (d *snapshotDecoder) count(what string, limit int) int {
	n := d.uvarint()
	switch {
	case d.err != nil:
	case n > uint64(limit):
		d.err = fmt.Errorf("%d %s exceed the limit of %d", n, what, limit)
	case n > uint64(len(d.b)):
		d.err = fmt.Errorf("a list of %d %s where %d bytes are left", n, what, len(d.b))
	default:
		return int(n)
	}
	return 0
}
