// Errors of the Hangman state machine: a small closed set of codes that a server maps one-to-one
// onto gRPC status codes.
//
// A rejected command is not a failure of the replicated state machine (Raft paper §5.1, §8): it is
// a deterministic result, the same on every replica, stored in the client's session like any other
// result so that a retry receives the same answer. That is why an Error is plain data (a code and
// a message) that survives encoding into a snapshot.

package game

import (
	"errors"
	"fmt"
)

// Code classifies why a command was rejected. The names and meanings follow gRPC's status codes so
// that a server can map them without a table of special cases.
type Code uint8

const (
	// OK is the code of a nil error.
	OK Code = iota
	// InvalidArgument: the command is malformed whatever the state (bad name, not one letter).
	InvalidArgument
	// NotFound: the command names a room that does not exist, or a player not in the room.
	NotFound
	// FailedPrecondition: the command is well formed but the state does not allow it now (the
	// round is over, or not over yet for a new round; the room or the cluster is full; the request
	// is older than one already applied).
	FailedPrecondition
	// AlreadyExists: the room or the player name is taken.
	AlreadyExists
	// Unknown classifies an error that did not come from this package.
	Unknown
	// ResourceExhausted: the session table is full of clients active recently, so a new client
	// cannot be remembered; it may try again once sessions expire. Nothing was applied.
	ResourceExhausted
	// SessionExpired: the request is a retry (its seq is not above the client's latest) of a
	// client whose session expired; its answer is gone, and it is not applied again. gRPC has no
	// code of that name: a server maps it to Aborted.
	SessionExpired
	// PermissionDenied: the player named joined with a token and the command does not carry it.
	PermissionDenied
)

var codeNames = [...]string{"OK", "InvalidArgument", "NotFound", "FailedPrecondition", "AlreadyExists", "Unknown",
	"ResourceExhausted", "SessionExpired", "PermissionDenied"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// MarshalText writes the code by name, so snapshots and traces read as words, not numbers.
func (c Code) MarshalText() ([]byte, error) {
	if int(c) >= len(codeNames) {
		return nil, fmt.Errorf("game: cannot encode unknown error code %d", uint8(c))
	}
	return []byte(codeNames[c]), nil
}

// UnmarshalText reads a code written by MarshalText.
func (c *Code) UnmarshalText(b []byte) error {
	for i, name := range codeNames {
		if string(b) == name {
			*c = Code(i)
			return nil
		}
	}
	return fmt.Errorf("game: unknown error code %q; expected one of %v", b, codeNames)
}

// Error is a command's deterministic rejection.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "game: " + e.Message }

// errorf builds an *Error; the message says what was wrong and, where it is not obvious, what to
// do instead.
func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of err: OK for nil, the code of an *Error anywhere in err's chain, and
// Unknown for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return Unknown
}
