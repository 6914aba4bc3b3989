// Package release runs a whole release for CI in one call: build the selected variants (each
// probed before it is pushed to staging), run the GPU smoke tests where asked, and publish.
// A partial release (a shard) publishes images and immutable tags but never floating tags.
package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/publish"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

// PartialReason is why a shard leaves floating tags alone.
const PartialReason = "a partial release (--only/--shard): publish every shard's report together to move floating tags"

// Options configure Run.
type Options struct {
	Plan     *matrix.Plan
	Variants []*matrix.Variant
	// Partial is true when Variants are a selection (--only/--shard) of the plan.
	Partial bool
	Build   build.RunOptions
	// Smoke runs the GPU smoke tests when set (its Mode is not off).
	Smoke   *smoke.Options
	Publish publish.RunOptions
}

// Outcome is what each stage produced; a stage that did not run is nil.
type Outcome struct {
	Build   *report.Build
	Smoke   *report.Smoke
	Publish *publish.Outcome
}

// Run builds, smoke-tests and publishes. Failed variants are published as far as the rules
// allow (immutable tags of the ones that passed; floating tags only when all did). The error is
// the publish's verdict, else the build's; the outcome comes back with it. An interrupted build
// publishes nothing.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	out := &Outcome{}
	rep, berr := build.Run(ctx, o.Plan, o.Variants, o.Build)
	out.Build = rep
	if rep == nil {
		return out, berr
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("cancelled before publishing; nothing was published: %w", err)
	}
	var failed *build.FailedError
	if berr != nil && !errors.As(berr, &failed) {
		return out, berr
	}
	var smokes []*report.Smoke
	if o.Smoke != nil && o.Smoke.Mode != smoke.ModeOff {
		sr, err := smoke.Run(ctx, smoke.Targets(rep), *o.Smoke)
		if err != nil {
			return out, fmt.Errorf("GPU smoke: %w", err)
		}
		out.Smoke = sr
		smokes = append(smokes, sr)
	}
	po := o.Publish
	po.Reports, po.Smokes, po.Plan = []*report.Build{rep}, smokes, o.Plan
	if o.Partial {
		po.SkipFloating, po.Plan = PartialReason, nil
	}
	pub, err := publish.Run(ctx, po)
	out.Publish = pub
	if err != nil {
		return out, err
	}
	if err := pub.Err(); err != nil {
		return out, err
	}
	return out, berr
}
