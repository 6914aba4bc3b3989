package build

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
)

// ProgressModes are the --progress values (as docker buildx).
var ProgressModes = []string{"auto", "tty", "plain", "rawjson", "quiet"}

// Progress shows the progress of many concurrent builds in one display; every vertex name
// is prefixed with its variant ("[2.9.1-cu128-...] RUN pip install ...").
type Progress struct {
	ch   chan *client.SolveStatus
	wg   sync.WaitGroup
	done chan error
}

// NewProgress starts the display on w.
func NewProgress(w io.Writer, mode string) (*Progress, error) {
	d, err := progressui.NewDisplay(w, progressui.DisplayMode(mode))
	if err != nil {
		return nil, fmt.Errorf("--progress %s: %w", mode, err)
	}
	p := &Progress{ch: make(chan *client.SolveStatus, 64), done: make(chan error, 1)}
	go func() {
		// Not the command's context: the display must drain until every build has closed
		// its channel, or a build blocks sending progress.
		_, err := d.UpdateFrom(context.Background(), p.ch)
		p.done <- err
	}()
	return p, nil
}

// Channel returns a status channel for one build; the build closes it.
func (p *Progress) Channel(id string) chan *client.SolveStatus {
	in := make(chan *client.SolveStatus, 16)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		prefix := "[" + id + "] "
		for s := range in {
			for _, v := range s.Vertexes {
				cp := *v
				cp.Name = prefix + v.Name
				*v = cp
			}
			p.ch <- s
		}
	}()
	return in
}

// Close waits for every build's channel to close, then for the display to finish.
func (p *Progress) Close() error {
	p.wg.Wait()
	close(p.ch)
	return <-p.done
}
