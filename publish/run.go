package publish

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// RunOptions configure Run: the reports of one release, and where and how to publish them.
type RunOptions struct {
	Reports []*report.Build
	Smokes  []*report.Smoke
	// Plan is the matrix the reports were built from (publish --matrix), or nil.
	Plan *matrix.Plan
	// Repository is the release repository ("" = the reports' repository).
	Repository string
	Client     *registry.Client
	Force      bool
	DryRun     bool
	// SkipFloating, when set, leaves floating tags alone for this reason (a partial release).
	SkipFloating string
	// Lease tunes the lease on the release repository.
	Lease LeaseOptions
	Log   *slog.Logger
}

// Outcome is a finished publish: the release it merged, what was done, and its record.
type Outcome struct {
	Release *Release
	Result  *Result
	Record  *report.Record
	DryRun  bool
	// Unchecked is set when no report lists its plan's variants and no plan was given, so a
	// missing shard could not be noticed.
	Unchecked bool
}

// Run merges the reports into a release and publishes it (or, with DryRun, shows what
// publishing would change). The error is for a release that cannot be assembled or an
// interrupted publish; Outcome.Err says whether the release itself succeeded.
func Run(ctx context.Context, o RunOptions) (*Outcome, error) {
	rel, err := NewRelease(o.Reports, o.Smokes, o.Plan)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Release: rel, DryRun: o.DryRun, Unchecked: o.Plan == nil && len(o.Reports[0].PlanVariants) == 0}
	repo := o.Repository
	if repo == "" {
		repo = rel.Repository
	}
	p := &Publisher{Client: o.Client, Force: o.Force, SkipFloating: o.SkipFloating, Lease: o.Lease, Log: o.Log}
	if o.DryRun {
		p.Target = DryRun{}
	}
	started := time.Now()
	res, err := p.Publish(ctx, rel, repo)
	if res == nil {
		return nil, err
	}
	out.Result = res
	out.Record = NewRecord(rel, res, o.DryRun, started)
	return out, err
}

// Err is the release's verdict: nil when every variant was published and the floating tags
// moved (for a dry run: when publishing would not conflict).
func (o *Outcome) Err() error {
	res := o.Result
	if o.DryRun {
		for _, a := range res.Actions {
			if a.Op == report.OpConflict {
				return fmt.Errorf("dry run: immutable tag %s would conflict (it holds %s, another image); publish would refuse it without --force", a.Tag, a.From)
			}
		}
		return nil
	}
	if res.Failed() {
		return fmt.Errorf("release %s: %s (%d of %d variants published)", res.Repository, o.Record.Status, len(res.Published), len(o.Release.Entries))
	}
	return nil
}
