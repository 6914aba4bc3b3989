package build

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/moby/buildkit/session/secrets/secretsprovider"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Limiter bounds how many builds run at once.
type Limiter struct {
	Inner Interface
	sem   chan struct{}
}

var _ Interface = (*Limiter)(nil)

// NewLimiter lets at most n builds through at a time.
func NewLimiter(inner Interface, n int) *Limiter {
	if n < 1 {
		n = 1
	}
	return &Limiter{Inner: inner, sem: make(chan struct{}, n)}
}

// Build waits for a slot (or cancellation), then builds.
func (l *Limiter) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return finish(newResult(req), report.Cancelled, report.StageQueue, ctx.Err())
	}
	defer func() { <-l.sem }()
	return l.Inner.Build(ctx, req)
}

// Pool spreads variants over several builders. Variants with the same base image go to the
// same builder, so each base is pulled once and its cache is shared.
type Pool struct {
	builders []Interface
	assign   map[string]int
}

var _ Interface = (*Pool)(nil)

// NewPool assigns base images to builders: largest group first, to the least loaded builder.
func NewPool(builders []Interface, variants []*matrix.Variant) *Pool {
	groups := map[string]int{}
	for _, v := range variants {
		groups[v.Base]++
	}
	bases := make([]string, 0, len(groups))
	for b := range groups {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool {
		if groups[bases[i]] != groups[bases[j]] {
			return groups[bases[i]] > groups[bases[j]]
		}
		return bases[i] < bases[j]
	})
	load := make([]int, len(builders))
	assign := map[string]int{}
	for _, b := range bases {
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		assign[b] = best
		load[best] += groups[b]
	}
	return &Pool{builders: builders, assign: assign}
}

// Build sends the variant to the builder of its base image.
func (p *Pool) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	return p.builders[p.assign[req.Variant.Base]].Build(ctx, req)
}

// All builds every request concurrently through b (put a Limiter in b to bound it). One
// failure never stops the others. Results come back in request order.
func All(ctx context.Context, b Interface, reqs []Request) []*report.BuildEntry {
	out := make([]*report.BuildEntry, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = b.Build(ctx, reqs[i])
		}()
	}
	wg.Wait()
	return out
}

// RunOptions configure Run: where to build, where the images go, and how.
type RunOptions struct {
	// Builders are BuildKit daemon addresses (default buildkit.DefaultAddr); variants are spread
	// over them, those sharing a base image on one.
	Builders []string
	TLS      buildkit.TLS
	Output   Output
	Cache    Cache
	// Jobs is how many builds run at once (default 4).
	Jobs int
	// Epoch is SOURCE_DATE_EPOCH (fingerprint.FromBase: each base image's creation time).
	Epoch fingerprint.Epoch
	// Revision is the source revision, for the report (never in an image).
	Revision string
	NoCache  bool
	// Secrets for every build (ParseSecret; --secret id=netrc,src=FILE).
	Secrets []secretsprovider.Source
	// Rebuild builds every variant, even those whose image with the same inputs is there.
	Rebuild bool
	// Progress and ProgressMode show BuildKit's progress (ProgressModes); nil shows none.
	Progress     io.Writer
	ProgressMode string
	// Registry resolves base images, finds unchanged images and reads staged images back.
	Registry *registry.Client
	Log      *slog.Logger
}

// Run builds the selected variants of a plan: it renders each one and resolves its base image
// (its input fingerprint, and with it the tags that name it), connects to the builders, and
// builds every variant at once through a Limiter, Skip (unless Rebuild) and a Pool. It returns
// the build report, which lists every variant of the full plan. The report comes back with the
// error when some variant failed (a *FailedError); without one only when no builder answered.
func Run(ctx context.Context, p *matrix.Plan, vs []*matrix.Variant, o RunOptions) (*report.Build, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(o.Builders) == 0 {
		o.Builders = []string{buildkit.DefaultAddr}
	}
	work, err := os.MkdirTemp("", "torchimg-build-")
	if err != nil {
		return nil, fmt.Errorf("build work directory: %w", err)
	}
	defer os.RemoveAll(work)
	rep := &report.Build{
		Schema: report.BuildSchema, Repository: p.Repository, LabelsPrefix: p.LabelsPrefix, MatrixRevision: p.MatrixRevision,
		Revision: o.Revision, StageRepo: o.Output.StageRepo, Started: time.Now().UTC(),
	}
	if rep.StageRepo == "" {
		rep.OCIDir = o.Output.OCIDir
	}
	if o.Epoch >= 0 {
		rep.SourceDateEpoch = int64(o.Epoch)
	}
	if o.Registry == nil {
		if o.Registry, err = registry.New(registry.Options{}); err != nil {
			return nil, err
		}
	}
	var builders []Interface
	for _, addr := range o.Builders {
		d, err := buildkit.Connect(ctx, addr, o.TLS)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		log.Info("builder ready", "addr", addr, "buildkit", d.Version)
		rep.Builders = append(rep.Builders, report.Builder{Addr: addr, Version: d.Version})
		builders = append(builders, NewBuildKit(d, work, o.Registry))
	}
	rep.Plan = p.PlanTags() // before the fingerprints are written into the tags
	resolved, err := fingerprint.Resolve(ctx, fingerprint.NewResolver(o.Registry), p, vs, o.Epoch)
	if err != nil {
		return nil, err
	}
	if err := p.SetInputs(fingerprint.Digests(resolved)); err != nil {
		return nil, err
	}
	for _, v := range p.Variants {
		rep.PlanVariants = append(rep.PlanVariants, v.ID)
	}
	var b Interface = NewPool(builders, vs)
	if !o.Rebuild {
		b = &Skip{Inner: b, Registry: o.Registry, Release: p.Repository}
	}
	b = NewLimiter(b, o.Jobs)

	var display *Display
	if o.Progress != nil {
		if display, err = NewDisplay(o.Progress, o.ProgressMode); err != nil {
			return nil, err
		}
	}
	reqs := make([]Request, 0, len(vs))
	var failed []*report.BuildEntry
	for _, rv := range resolved {
		req := Request{Plan: p, Variant: rv.Variant, Context: rv.Context, Output: o.Output, Cache: o.Cache, Epoch: o.Epoch, NoCache: o.NoCache, Secrets: o.Secrets}
		if rv.RenderErr != nil {
			r, _ := finish(newResult(req), report.Failed, report.StageRender, rv.RenderErr)
			failed = append(failed, r)
			continue
		}
		if rv.BaseErr == nil {
			req.Inputs = &rv.Inputs
		} else {
			log.Warn("base image not resolved here; the builder resolves it", "variant", rv.Variant.ID, "err", rv.BaseErr)
		}
		if display != nil {
			req.Progress = display.For(rv.Variant.ID)
		}
		reqs = append(reqs, req)
	}
	results := All(ctx, b, reqs)
	if display != nil {
		if err := display.Close(); err != nil {
			log.Warn("progress display", "err", err)
		}
	}
	// Tags that name the fingerprint of a variant whose base only its builder could resolve.
	late := map[string]string{}
	for i, r := range results {
		if r.Inputs != "" && reqs[i].Variant.TagsPending() {
			late[r.ID] = r.Inputs
		}
	}
	if err := p.SetInputs(late); err != nil {
		return nil, err
	}
	for i, r := range results {
		v := reqs[i].Variant
		r.Tags, r.ImmutableTags, r.FloatingTags = v.Tags, v.ImmutableTags, v.FloatingTags
	}
	rep.Variants = append(failed, results...)
	rep.Finished = time.Now().UTC()
	if bad := rep.Failed(); len(bad) > 0 {
		return rep, &FailedError{Failed: len(bad), Total: len(rep.Variants), Cancelled: ctx.Err() != nil}
	}
	return rep, nil
}

// FailedError says that some variants of a run did not build.
type FailedError struct {
	Failed, Total int
	Cancelled     bool
}

func (e *FailedError) Error() string {
	if e.Cancelled {
		return "cancelled"
	}
	return fmt.Sprintf("%d of %d variant(s) failed", e.Failed, e.Total)
}
