package build

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
)

// ProgressModes are the --progress values (as docker buildx).
var ProgressModes = []string{"auto", "tty", "plain", "rawjson", "quiet"}

// Display shows the progress of many concurrent builds in one BuildKit progress display; every
// vertex name is prefixed with its variant ("[2.9.1-cu128-...] RUN pip install ...").
type Display struct {
	ch   chan *client.SolveStatus
	done chan error
}

// NewDisplay starts the display on w.
func NewDisplay(w io.Writer, mode string) (*Display, error) {
	d, err := progressui.NewDisplay(w, progressui.DisplayMode(mode))
	if err != nil {
		return nil, fmt.Errorf("--progress %s: %w", mode, err)
	}
	p := &Display{ch: make(chan *client.SolveStatus, 64), done: make(chan error, 1)}
	go func() {
		// Not the command's context: the display drains until Close, so a build never blocks
		// sending progress.
		_, err := d.UpdateFrom(context.Background(), p.ch)
		p.done <- err
	}()
	return p, nil
}

// For returns the progress callback (Request.Progress) of one variant's build.
func (p *Display) For(id string) func(*client.SolveStatus) {
	prefix := "[" + id + "] "
	return func(s *client.SolveStatus) {
		for i, v := range s.Vertexes {
			cp := *v
			cp.Name = prefix + v.Name
			s.Vertexes[i] = &cp
		}
		p.ch <- s
	}
}

// Close ends the display once every build has returned.
func (p *Display) Close() error {
	close(p.ch)
	return <-p.done
}
