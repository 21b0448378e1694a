// How the node's errors reach a gRPC caller: each one mapped to the status code of
// docs/protocol.md ("Status codes"), with a message that says what to do.
//
// A game rejection is a verdict (the same on every replica, Raft paper §8), so its code says
// whether to fix the request or change the state first; everything about leaders and lost
// proposals is Unavailable, which tells the caller to retry with the same client id and seq.
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/kanna-cluster/kanna/internal/gamecode"
	"github.com/kanna-cluster/kanna/server/engine"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kanna-cluster/kanna/game"
	"github.com/kanna-cluster/kanna/raft"
)

// toStatus maps err to a gRPC status error. It leaves an error that already is one as it is.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ge *game.Error
	if errors.As(err, &ge) {
		return status.Error(gamecode.GRPC(ge.Code), ge.Message)
	}
	var nl *raft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return status.Errorf(codes.Unavailable, "%v; retry shortly with the same client_id and seq", nl)
	case errors.Is(err, engine.ErrProposalLost), errors.Is(err, raft.ErrProposalDropped), errors.Is(err, errAbandoned):
		return status.Errorf(codes.Unavailable, "%v", err)
	case errors.Is(err, ErrStopped):
		return status.Error(codes.Unavailable, "the node is shutting down; retry on another node with the same client_id and seq")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// retryable reports whether a failed attempt may succeed if made again within the call's
// deadline: no leader yet, a leader change, or a leader that could not be reached.
func retryable(err error) bool {
	var nl *raft.NotLeaderError
	if errors.As(err, &nl) || errors.Is(err, engine.ErrProposalLost) || errors.Is(err, raft.ErrProposalDropped) ||
		errors.Is(err, errAbandoned) {
		return true
	}
	return status.Code(err) == codes.Unavailable && !errors.Is(err, ErrStopped)
}

// deadlineError is what a call that kept retrying until its deadline answers.
func deadlineError(ctx context.Context, what string, last error) error {
	code := codes.DeadlineExceeded
	if errors.Is(ctx.Err(), context.Canceled) {
		code = codes.Canceled
	}
	msg := fmt.Sprintf("%s: no leader answered before the deadline", what)
	if last != nil {
		msg += fmt.Sprintf(" (last attempt: %v)", status.Convert(toStatus(last)).Message())
	}
	return status.Error(code, msg+"; the request may or may not have been applied: retry with the same client_id and seq")
}
