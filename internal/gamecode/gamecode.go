// Package gamecode maps the Hangman state machine's rejections (game.Code) onto gRPC status codes
// of the same name. A real node answers with them, and so do stand-ins for a node (web/fakenode),
// which must not pull in the whole node to do it.
package gamecode

import (
	"google.golang.org/grpc/codes"

	"github.com/kanna-cluster/kanna/game"
)

// GRPC returns the gRPC code for a game rejection; codes.Unknown for a code the game does not use.
func GRPC(c game.Code) codes.Code {
	switch c {
	case game.InvalidArgument:
		return codes.InvalidArgument
	case game.NotFound:
		return codes.NotFound
	case game.FailedPrecondition:
		return codes.FailedPrecondition
	case game.AlreadyExists:
		return codes.AlreadyExists
	case game.ResourceExhausted:
		return codes.ResourceExhausted
	case game.PermissionDenied:
		return codes.PermissionDenied
	case game.SessionExpired:
		// gRPC's "a sequencer check failed": the request is not applied, and retrying it as is
		// cannot help; a new session can.
		return codes.Aborted
	}
	return codes.Unknown
}
