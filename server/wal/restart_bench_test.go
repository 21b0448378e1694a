// Benchmark of restart memory: Open on a full 64 MiB segment whose entries lie mostly behind the
// snapshot, as a busy node's does (the log is compacted every few thousand entries, but a segment
// is deleted only once it lies wholly behind the older kept snapshot). Issue 12 measured such a
// restart at 8 times the node's steady-state RSS; replay now streams (replay.go).
//
// The restart runs in a child process (this test binary run again), so that its peak RSS (VmHWM)
// is its own. The steady state is the same process holding what Open returned, after a GC has
// given back what replay no longer needs: the least any node holding that log uses.
//
//	go test -run '^$' -bench RestartMemory ./server/wal/

package wal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/kanna-cluster/kanna/raft"
)

const restartChildEnv = "KANNA_WAL_RESTART_CHILD"

func init() {
	dir := os.Getenv(restartChildEnv)
	if dir == "" {
		return
	}
	w, restored, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	peak := procStatusKiB("VmHWM")
	runtime.GC()
	debug.FreeOSMemory()
	steady := procStatusKiB("VmRSS")
	fmt.Println("rss", peak, steady, len(restored.Entries))
	runtime.KeepAlive(restored)
	_ = w.Close()
	os.Exit(0)
}

// procStatusKiB reads one kB field of /proc/self/status.
func procStatusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// fullSegment writes one segment of nearly segSize bytes of 100-byte entries, a snapshot of
// snapData bytes every snapEvery entries.
func fullSegment(b *testing.B, dir string, segSize int64, snapEvery int, snapData int) int {
	w, _, err := Open(dir, Options{SegmentSize: segSize})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	batch := make([]raft.Entry, 1000)
	next := uint64(1)
	for w.size+int64(len(batch)*(recordHeaderSize+entryFixedSize+len(data))) < segSize {
		for i := range batch {
			batch[i] = raft.Entry{Index: next, Term: 1, Data: data}
			next++
		}
		if err := w.Save(raft.HardState{Term: 1, Vote: 1, Commit: next - 1}, batch, true); err != nil {
			b.Fatal(err)
		}
		if (next-1)%uint64(snapEvery) == 0 {
			snap := raft.Snapshot{Meta: raft.SnapshotMeta{Index: next - 1, Term: 1, ConfState: raft.ConfState{Voters: []uint64{1}}},
				Data: make([]byte, snapData)}
			if err := w.SaveSnapshot(snap); err != nil {
				b.Fatal(err)
			}
		}
	}
	if len(w.segments) != 1 {
		b.Fatalf("wrote %d segments, want one full one", len(w.segments))
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return int(next - 1)
}

func BenchmarkRestartMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc/self/status")
	}
	dir := b.TempDir()
	written := fullSegment(b, dir, DefaultSegmentSize, 10000, 256<<10)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var peak, steady, kept int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(exe, "-test.run", "^$")
		cmd.Env = append(os.Environ(), restartChildEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("restart child: %v\n%s", err, out)
		}
		if _, err := fmt.Sscanf(string(out), "rss %d %d %d", &peak, &steady, &kept); err != nil {
			b.Fatalf("restart child said %q: %v", out, err)
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-MiB")
	b.ReportMetric(float64(steady)/1024, "steady-MiB")
	b.ReportMetric(float64(peak)/float64(steady), "peak/steady")
	b.ReportMetric(float64(written), "entries-replayed")
	b.ReportMetric(float64(kept), "entries-kept")
}
