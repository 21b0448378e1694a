// Tests of the HTML view of a run.

package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHTMLListsEveryKeptEvent(t *testing.T) {
	r, err := Execute(Options{Seed: 4, Nodes: 3, Duration: 6 * time.Second, KeepEvents: true})
	require.NoError(t, err)
	var page strings.Builder
	require.NoError(t, WriteHTML(&page, r))
	html := page.String()
	require.Contains(t, html, "kanna sim --seed 4")
	require.Contains(t, html, r.TraceHash)
	require.Equal(t, r.EventCount, strings.Count(html, "<tr class="), "one row per event")
}

func TestHTMLRefusesARunThatKeptNoEvents(t *testing.T) {
	r, err := Execute(Options{Seed: 4, Nodes: 3, Duration: 6 * time.Second})
	require.NoError(t, err)
	require.ErrorContains(t, WriteHTML(&strings.Builder{}, r), "KeepEvents")
}
