// The timing a Kanna node runs with, here so that the real shell (server.Config) and the
// simulator (tests/sim) use one definition and the simulator tests the timing that is deployed.
//
// Raft paper §5.6 asks broadcastTime ≪ electionTimeout ≪ MTBF. One tick of 25 ms drives both
// cores; a leader heartbeats every tick; a follower waits an election timeout of twelve ticks, 0.3
// to 0.6 s once randomized (thesis §9.3), before it campaigns. Twelve ticks rather than six of
// 50 ms: the randomized timeouts are whole ticks, and with only six values to draw from, two of four
// surviving followers often drew the same one and split the vote.
package engine

const (
	// DefaultTickMillis is the length of one tick of both cores, in milliseconds (the engine reads
	// no clock, so it holds no time.Duration).
	DefaultTickMillis = 25
	// DefaultElectionTick is the Raft election timeout in ticks.
	DefaultElectionTick = 12
	// DefaultHeartbeatTick is how many ticks a leader waits between heartbeats.
	DefaultHeartbeatTick = 1
)
