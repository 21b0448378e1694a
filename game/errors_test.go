// Tests of error codes (errors.go) and of the text forms of codes and statuses.

package game

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeOfFindsTheCodeThroughWrapping(t *testing.T) {
	require.Equal(t, OK, CodeOf(nil))
	err := fmt.Errorf("forwarding: %w", errorf(NotFound, "room %q does not exist", "den"))
	require.Equal(t, NotFound, CodeOf(err))
	require.Equal(t, Unknown, CodeOf(errors.New("disk on fire")))
	require.Contains(t, err.Error(), `room "den" does not exist`)
}

func TestResultErrorIsNilOnlyWhenApplied(t *testing.T) {
	require.NoError(t, Result{}.Error())
	require.Equal(t, AlreadyExists, CodeOf(Result{Err: errorf(AlreadyExists, "taken")}.Error()))
}

func TestCodesAndStatusesEncodeAsNames(t *testing.T) {
	b, err := json.Marshal(Result{Status: Won, Err: &Error{Code: FailedPrecondition, Message: "m"}})
	require.NoError(t, err)
	require.Contains(t, string(b), `"status":"won"`)
	require.Contains(t, string(b), `"code":"FailedPrecondition"`)

	var r Result
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, Won, r.Status)
	require.Equal(t, FailedPrecondition, r.Err.Code)

	for c := OK; c <= PermissionDenied; c++ {
		text, err := c.MarshalText()
		require.NoError(t, err)
		require.Equal(t, c.String(), string(text))
		var back Code
		require.NoError(t, back.UnmarshalText(text))
		require.Equal(t, c, back)
	}
	for s := Playing; s <= Lost; s++ {
		text, err := s.MarshalText()
		require.NoError(t, err)
		require.Equal(t, s.String(), string(text))
	}
}

func TestUnknownCodesAndStatusesAreRefused(t *testing.T) {
	_, err := Code(200).MarshalText()
	require.Error(t, err)
	require.Equal(t, "Code(200)", Code(200).String())
	_, err = Status(9).MarshalText()
	require.Error(t, err)
	require.Equal(t, "Status(9)", Status(9).String())
	var c Code
	require.Error(t, c.UnmarshalText([]byte("Teapot")))
	var s Status
	require.Error(t, s.UnmarshalText([]byte("sleeping")))
}
