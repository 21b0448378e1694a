// Tests of the writer goroutine (writer.go) against a recording log: the persistence contract of
// docs/design.md (a follower persists before acknowledging; a vote is durable before it is sent) and
// group commit (one fsync for every Output waiting).

package server

import (
	"errors"
	"fmt"
	"github.com/kanna-cluster/kanna/server/engine"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanna-cluster/kanna/raft"
)

// recordingLog records, in order, every write, fsync and send; a Save can be made to wait on gate
// or to fail.
type recordingLog struct {
	mu      sync.Mutex
	events  []string
	gate    chan struct{} // when set, each Save with entries waits for a value from it,
	entered chan struct{} // after saying so on entered
	fail    error
}

func (l *recordingLog) record(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *recordingLog) Save(hs raft.HardState, entries []raft.Entry, sync bool) error {
	if l.gate != nil && len(entries) > 0 {
		l.entered <- struct{}{}
		<-l.gate
	}
	if l.fail != nil {
		return l.fail
	}
	if len(entries) > 0 {
		l.record(fmt.Sprintf("write %d-%d", entries[0].Index, entries[len(entries)-1].Index))
	}
	if !hs.IsEmpty() {
		l.record(fmt.Sprintf("hardstate term %d vote %d commit %d", hs.Term, hs.Vote, hs.Commit))
	}
	if sync {
		l.record("fsync")
	}
	return nil
}

func (l *recordingLog) EndRecovery() error {
	l.record("end recovery")
	return nil
}

func (l *recordingLog) SaveSnapshot(snap raft.Snapshot) error {
	l.record(fmt.Sprintf("snapshot %d", snap.Meta.Index))
	return nil
}

func (l *recordingLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// startWriter runs a writer over log and returns its input and output.
func startWriter(log *recordingLog) (chan<- writeBatch, <-chan writeDone) {
	w := &diskWriter{
		log: log,
		send: func(msgs []raft.Message) {
			for _, m := range msgs {
				log.record(fmt.Sprintf("send %s to %d", m.Type, m.To))
			}
		},
		snapshotSaved: func(uint64) {},
	}
	in, out := make(chan writeBatch, maxInflightWrites), make(chan writeDone, maxInflightWrites)
	go w.run(in, out)
	return in, out
}

func appendBatch(index, term uint64, held bool, msgs ...raft.Message) writeBatch {
	return writeBatch{held: held, out: engine.Output{
		Entries:  []raft.Entry{{Index: index, Term: term}},
		MustSync: true,
		Messages: msgs,
	}}
}

func TestFollowerAcknowledgesOnlyAfterTheFsyncThatCoversTheEntries(t *testing.T) {
	log := &recordingLog{}
	in, out := startWriter(log)
	ack := raft.Message{Type: raft.MsgAppResp, To: 1, Index: 5}
	in <- appendBatch(5, 2, true, ack)
	done := <-out
	require.NoError(t, done.err)
	require.Len(t, done.batches, 1)
	require.Equal(t, []string{"write 5-5", "fsync", "send MsgAppResp to 1"}, log.take())
	close(in)
}

func TestVoteIsSentOnlyOnceTheHardStateIsSyncedOnItsOwn(t *testing.T) {
	log := &recordingLog{}
	in, out := startWriter(log)
	vote := raft.Message{Type: raft.MsgVoteResp, To: 3}
	in <- writeBatch{held: true, out: engine.Output{
		HardState: raft.HardState{Term: 4, Vote: 3, Commit: 7},
		MustSync:  true,
		Messages:  []raft.Message{vote},
	}}
	require.NoError(t, (<-out).err)
	require.Equal(t, []string{"hardstate term 4 vote 3 commit 7", "fsync", "send MsgVoteResp to 3"}, log.take(),
		"the term and vote are saved with a sync of their own (their file and folder), before the vote leaves")
	close(in)
}

func TestOutputsWaitingForTheDiskShareOneFsync(t *testing.T) {
	log := &recordingLog{gate: make(chan struct{}), entered: make(chan struct{})}
	in, out := startWriter(log)
	in <- appendBatch(1, 1, true, raft.Message{Type: raft.MsgAppResp, To: 1, Index: 1})
	<-log.entered
	// The first write is held at the disk; two more Outputs queue behind it.
	in <- appendBatch(2, 1, true, raft.Message{Type: raft.MsgAppResp, To: 1, Index: 2})
	in <- appendBatch(3, 1, true, raft.Message{Type: raft.MsgAppResp, To: 1, Index: 3})
	log.gate <- struct{}{}
	first := <-out
	require.Len(t, first.batches, 1)
	for range 2 {
		<-log.entered
		log.gate <- struct{}{}
	}
	second := <-out
	require.Len(t, second.batches, 2, "the two Outputs queued during the first write are written together")
	require.Equal(t, []string{
		"write 1-1", "fsync", "send MsgAppResp to 1",
		"write 2-2", "write 3-3", "fsync", "send MsgAppResp to 1", "send MsgAppResp to 1",
	}, log.take())
	close(in)
}

func TestLeaderEarlyOutputIsWrittenButItsMessagesAreNotSentAgain(t *testing.T) {
	log := &recordingLog{}
	in, out := startWriter(log)
	in <- appendBatch(9, 3, false, raft.Message{Type: raft.MsgApp, To: 2})
	require.NoError(t, (<-out).err)
	require.Equal(t, []string{"write 9-9", "fsync"}, log.take(), "the loop already sent a leader's appends")
	close(in)
}

func TestFailedWriteSendsNothingAndIsReportedForEveryLaterBatch(t *testing.T) {
	log := &recordingLog{fail: errors.New("disk full")}
	in, out := startWriter(log)
	in <- appendBatch(1, 1, true, raft.Message{Type: raft.MsgAppResp, To: 1, Index: 1})
	d := <-out
	require.ErrorContains(t, d.err, "disk full")
	log.fail = nil
	in <- appendBatch(2, 1, true, raft.Message{Type: raft.MsgAppResp, To: 1, Index: 2})
	d = <-out
	require.ErrorContains(t, d.err, "disk full", "after a failure the disk's state is unknown: nothing more is written")
	require.Empty(t, log.take())
	close(in)
	_, open := <-out
	require.False(t, open, "the writer closes its output once its input is closed")
}
