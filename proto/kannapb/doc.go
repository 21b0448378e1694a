// Package kannapb is the Go form of Kanna's gRPC contract, generated from proto/kanna/v1/*.proto:
// the Raft service (one pipelined stream of messages per peer, mirroring raft.Message), the Gossip
// service (SWIM packets and push-pull state as opaque bytes), the Game service (Hangman commands,
// reads and watches) and the Cluster service (status, membership, leadership transfer and fault
// injection).
//
// Every *.pb.go file here is generated: change the .proto files, then run `make proto`
// (scripts/proto.sh), and commit both. `scripts/proto.sh --check`, run by this package's tests,
// fails when the two disagree. docs/protocol.md describes each RPC, who calls it and its errors.
package kannapb
