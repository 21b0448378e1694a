// Tests of the snapshot encodings (snapshot_codec.go): every field of the snapshot's structs
// survives version 2, version 1 JSON written by earlier builds still restores to the same state,
// and malformed version 2 bytes are refused.

package game

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// populate sets every field reachable from v, through structs, pointers and slices (one element
// each), to a value other than its zero, each number and string different. Status and Code fields
// take 1, a valid value of each.
func populate(v reflect.Value, next *int) {
	*next++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			populate(v.Field(i), next)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		populate(v.Elem(), next)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		populate(v.Index(0), next)
	case reflect.String:
		v.SetString(fmt.Sprintf("text %d", *next))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(-int64(*next) * 1000) // negative, and more than one byte as a varint
	case reflect.Uint64:
		v.SetUint(uint64(*next) * 1000)
	case reflect.Uint8:
		v.SetUint(1)
	default:
		panic(fmt.Sprintf("populate: extend it to %s, the kind of a new snapshot field", v.Type()))
	}
}

// TestSnapshotEncodingCoversEveryField fills every field of snapshotData and of everything it
// holds, sessions' results with their error and room included, and requires it back from the
// version 2 bytes. A field added to any of those structs and not encoded fails here.
func TestSnapshotEncodingCoversEveryField(t *testing.T) {
	var d snapshotData
	next := 0
	populate(reflect.ValueOf(&d).Elem(), &next)
	d.Version = snapshotVersion
	require.NotNil(t, d.Sessions[0].Result.Err)
	require.NotNil(t, d.Sessions[0].Result.State)
	require.NotEmpty(t, d.Sessions[0].Result.State.Players)

	b := appendSnapshot(nil, &d)
	got, err := decodeBinarySnapshot(b)
	require.NoError(t, err)
	require.Equal(t, d, got)

	// The populate above reaches every field: each one, zeroed alone, changes the bytes.
	leaves := 0
	forEachLeaf(reflect.ValueOf(&d).Elem(), "snapshotData", func(path string, field reflect.Value) {
		if path == "snapshotData.Version" {
			return
		}
		leaves++
		old := reflect.New(field.Type()).Elem()
		old.Set(field)
		field.Set(reflect.Zero(field.Type()))
		require.NotEqual(t, string(b), string(appendSnapshot(nil, &d)), "%s is not encoded", path)
		field.Set(old)
	})
	require.Greater(t, leaves, 40)
}

// forEachLeaf calls f with every field of v that is not a struct, a pointer or a slice.
func forEachLeaf(v reflect.Value, path string, f func(string, reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			forEachLeaf(v.Field(i), path+"."+v.Type().Field(i).Name, f)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			forEachLeaf(v.Elem(), path, f)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			forEachLeaf(v.Index(i), path, f)
		}
	default:
		f(path, v)
	}
}

// TestRestoreReadsAVersion1JSONSnapshot restores a snapshot of richState written by the JSON
// encoding of earlier builds, as logs and snapshot files on disk hold it: the state it gives is
// richState's, byte for byte.
func TestRestoreReadsAVersion1JSONSnapshot(t *testing.T) {
	v1, err := os.ReadFile("testdata/snapshot-v1.json")
	require.NoError(t, err)
	require.Equal(t, byte('{'), v1[0])
	d, err := decodeSnapshot(v1)
	require.NoError(t, err)
	// The file sets every field somewhere, so every field's JSON name is read.
	set := map[string]bool{}
	forEachLeaf(reflect.ValueOf(&d).Elem(), "snapshotData", func(path string, field reflect.Value) {
		if !field.IsZero() {
			set[path] = true
		}
	})
	var all snapshotData
	populate(reflect.ValueOf(&all).Elem(), new(int))
	forEachLeaf(reflect.ValueOf(&all).Elem(), "snapshotData", func(path string, _ reflect.Value) {
		require.True(t, set[path], "testdata/snapshot-v1.json never sets %s", path)
	})

	want := richState(t)
	got := played(t)
	require.NoError(t, got.Restore(v1))
	require.Equal(t, string(want.Snapshot()), string(got.Snapshot()))
	// The answers kept for retries are the same values, not only the same bytes.
	for _, sd := range d.Sessions {
		retry := Command{Kind: KindJoin, ClientID: sd.ClientID, Seq: sd.Seq, Room: "den", Player: "x", Time: d.Now}
		require.Equal(t, want.Apply(retry), got.Apply(retry), "retry of client %s", sd.ClientID)
	}
}

// TestRichStateRoundTripsThroughBothEncodings: the binary snapshot of richState, and the JSON one
// written as earlier builds wrote it, restore to the same bytes and the same answers.
func TestRichStateRoundTripsThroughBothEncodings(t *testing.T) {
	s := richState(t)
	snap := s.Snapshot()
	require.Equal(t, byte(snapshotVersion), snap[0])
	d, err := decodeSnapshot(snap)
	require.NoError(t, err)
	d.Version = snapshotVersionJSON
	v1, err := json.Marshal(d)
	require.NoError(t, err)
	for _, data := range [][]byte{snap, v1} {
		restored := NewState()
		require.NoError(t, restored.Restore(data))
		require.Equal(t, string(snap), string(restored.Snapshot()))
		for _, sd := range d.Sessions {
			retry := Command{Kind: KindJoin, ClientID: sd.ClientID, Seq: sd.Seq, Room: "den", Player: "x", Time: d.Now}
			require.Equal(t, s.Apply(retry), restored.Apply(retry), "retry of client %s", sd.ClientID)
		}
		s = richState(t)
	}
}

// TestRestoreRefusesMalformedBinarySnapshots cuts and alters a good version 2 snapshot in the ways
// the encoding forbids; each is refused, naming what is wrong, and the state is kept.
func TestRestoreRefusesMalformedBinarySnapshots(t *testing.T) {
	good := richState(t).Snapshot()
	s := played(t)
	before := s.Snapshot()
	refuse := func(data []byte, want string) {
		t.Helper()
		err := s.Restore(data)
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
		require.Equal(t, string(before), string(s.Snapshot()), "a failed restore must not change the state")
	}
	for n := 0; n < len(good); n++ {
		if n == 0 {
			refuse(good[:n], "empty")
			continue
		}
		err := s.Restore(good[:n])
		require.Error(t, err, "the first %d of %d bytes", n, len(good))
	}
	refuse(append(append([]byte(nil), good...), 0), "1 trailing bytes")
	for _, v := range []byte{0, 1, 3, 0x7f, 0xff} {
		refuse(append([]byte{v}, good[1:]...), fmt.Sprintf("unknown encoding version %d", v))
	}

	d, err := decodeSnapshot(good)
	require.NoError(t, err)
	encode := func(edit func(d *snapshotData)) []byte {
		e := copySnapshotData(d)
		edit(&e)
		return appendSnapshot(nil, &e)
	}
	refuse(encode(func(d *snapshotData) { d.Rooms[0], d.Rooms[1] = d.Rooms[1], d.Rooms[0] }), "rooms must be sorted by name")
	refuse(encode(func(d *snapshotData) { d.Sessions[0], d.Sessions[1] = d.Sessions[1], d.Sessions[0] }), "sessions must be sorted by client id")
	refuse(encode(func(d *snapshotData) { d.Rooms[0].Status = 3 }), "unknown round status 3")
	refuse(encode(func(d *snapshotData) { d.Sessions[0].Result.Status = 9 }), "unknown round status 9")
	refuse(encode(func(d *snapshotData) {
		d.Sessions[0].Result.Err = &Error{Code: Code(len(codeNames)), Message: "?"}
	}), fmt.Sprintf("unknown error code %d", len(codeNames)))

	// The first session's Expired flag follows its client id, seq, last apply and active time.
	sd := d.Sessions[0]
	require.True(t, sd.Expired)
	at := strings.Index(string(good), sd.ClientID) + len(sd.ClientID)
	flag := at + uvarintLen(sd.Seq) + uvarintLen(sd.LastApply) + uvarintLen(uint64(sd.Active)<<1)
	require.Equal(t, byte(1), good[flag])
	bad := append([]byte(nil), good...)
	bad[flag] = 2
	refuse(bad, "a flag of 2")

	// A number padded with a zero byte: the applies count, the first number after the version.
	padded := append([]byte{good[0]}, good[1]|0x80, 0)
	padded = append(padded, good[2:]...)
	require.Less(t, good[1], byte(0x80), "the applies count fits one byte")
	refuse(padded, "padded with zero bytes")

	// Lists longer than Apply makes them, or than the bytes left.
	refuse([]byte{snapshotVersion, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "4294967295 rooms exceed the limit of 1000")
	refuse([]byte{snapshotVersion, 1, 0, 0, 0, 0x81, 0x20}, "4097 sessions exceed the limit of 4096")
	refuse([]byte{snapshotVersion, 1, 0, 0, 0, 3, 0, 0}, "a list of 3 sessions where 2 bytes are left")
	refuse(encode(func(d *snapshotData) {
		for i := 0; i <= MaxPlayersPerRoom; i++ {
			d.Rooms[0].Players = append(d.Rooms[0].Players, playerData{Name: fmt.Sprintf("p%d", i)})
		}
	}), "players exceed the limit of 32")
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
