// Package publish promotes staged images to the release repository: it merges the build and
// smoke reports of a release, plans every tag action with reads only (MakePlan), and carries
// the plan out through a Target (the registry, or a dry run): images by digest first (blobs
// mounted across repositories, nothing uploaded twice), immutable tags next, floating tags last
// and only when the whole release passed. It also writes the release record.
package publish

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/report"
)

// Target carries out a plan. There is one per way of publishing: the registry, and a dry run
// that changes nothing.
type Target interface {
	// Copy puts the entry's staged image into the repository under its digest.
	Copy(ctx context.Context, e *report.Entry, dst name.Digest) error
	// Tag points tag at an image already in the repository.
	Tag(ctx context.Context, tag name.Tag, to name.Digest) error
	// Writes reports whether the target changes anything (false for a dry run).
	Writes() bool
}

// Registry publishes into the registry.
type Registry struct{ Client *registry.Client }

var _ Target = Registry{}

// Copy implements Target.
func (r Registry) Copy(ctx context.Context, e *report.Entry, dst name.Digest) error {
	src, err := r.Client.Ref(e.Source)
	if err != nil {
		return err
	}
	return r.Client.Copy(ctx, src, dst, e.Digest)
}

// Tag implements Target.
func (r Registry) Tag(ctx context.Context, tag name.Tag, to name.Digest) error {
	return r.Client.Tag(ctx, tag, to)
}

// Writes implements Target.
func (Registry) Writes() bool { return true }

// DryRun changes nothing: every action stays planned.
type DryRun struct{}

var _ Target = DryRun{}

// Copy implements Target.
func (DryRun) Copy(context.Context, *report.Entry, name.Digest) error { return nil }

// Tag implements Target.
func (DryRun) Tag(context.Context, name.Tag, name.Digest) error { return nil }

// Writes implements Target.
func (DryRun) Writes() bool { return false }

// Publisher publishes releases.
type Publisher struct {
	Client *registry.Client
	// Target carries the plan out (default: Registry{Client}).
	Target Target
	// Force moves immutable tags that point to another image.
	Force bool
	// SkipFloating, when set, publishes images and immutable tags only and leaves every
	// floating tag alone, for this reason (a shard of a release: the rest is not built here).
	SkipFloating string
	// Lease tunes the lease on the release repository (zero values: the defaults).
	Lease LeaseOptions
	// Release names the release in the lease ("" = the release's revision or matrix revision).
	Release string
	Log     *slog.Logger
}

// RollbackTimeout bounds putting floating tags back after a failure or an interrupt.
const RollbackTimeout = time.Minute

// Result of a publish.
type Result struct {
	Repository string
	// Actions say what was done (Done) or would be done (a dry run), never only what was planned.
	Actions []report.Action
	// Published are the variants whose image and immutable tags are in the release repository.
	Published []string
	// Digests maps variant id → the digest its tags point to.
	Digests map[string]string
	// FloatingHeld says why floating tags did not move ("" when they did).
	FloatingHeld string
	// FloatingSkipped says why floating tags were not considered (a partial release).
	FloatingSkipped string
	// Verified are the variants whose labels were read from the image and matched the plan.
	Verified []string
	// Copied counts the images copied into the repository, Written the tags written (and not
	// put back).
	Copied, Written int
	// RolledBack are the floating tags put back to where they were.
	RolledBack []string
	Errors     []string
}

// Failed reports whether anything went wrong.
func (r *Result) Failed() bool { return len(r.Errors) > 0 || r.FloatingHeld != "" }

// Publish plans the release against repo and carries the plan out: every publishable variant's
// image by digest, its immutable tags, then — only when the release is complete, every label
// matched, no immutable tag conflicted and nothing failed — the floating tags. Running it
// again finishes an interrupted publish; nothing is uploaded twice.
func (p *Publisher) Publish(ctx context.Context, rel *Release, repo string) (*Result, error) {
	target, err := p.Client.Repo(repo)
	if err != nil {
		return nil, fmt.Errorf("release repository: %w", err)
	}
	var held *Held
	if p.target().Writes() {
		// The tagging phase of one release at a time: the plan is made under the lease, so it
		// sees what an earlier publish left.
		name := p.Release
		if name == "" {
			name = rel.Name()
		}
		l := &Leaser{Client: p.Client, Repo: target, Release: name, LeaseOptions: p.Lease, Log: p.Log}
		if held, err = l.Acquire(ctx); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := held.Release(ctx); rerr != nil && p.Log != nil {
				p.Log.Warn("publish lease", "err", rerr)
			}
		}()
	}
	pl, err := MakePlan(ctx, p.Client, target, rel.Wants(), PlanOptions{
		Force: p.Force, SkipFloating: p.SkipFloating, Complete: rel.Complete, VerifyLabels: true,
	})
	if err != nil {
		return nil, fmt.Errorf("plan the release: %w", err)
	}
	return p.execute(ctx, pl, held)
}

func (p *Publisher) target() Target {
	if p.Target == nil {
		return Registry{Client: p.Client}
	}
	return p.Target
}

// Execute carries out a plan: copies, then immutable tags (4 variants at a time), then the
// floating tags when nothing failed, as a unit: when one cannot be written, or the publish is
// interrupted, every floating tag already moved is put back. Every tag written is read back.
// The result's actions say what was done.
func (p *Publisher) Execute(ctx context.Context, pl *Plan) (*Result, error) {
	return p.execute(ctx, pl, nil)
}

func (p *Publisher) execute(ctx context.Context, pl *Plan, held *Held) (*Result, error) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := p.target()
	res := &Result{Repository: pl.Repository.Name(), Digests: map[string]string{}, FloatingHeld: pl.FloatingHeld,
		FloatingSkipped: pl.FloatingSkipped, Errors: append([]string(nil), pl.Errors...)}
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for id, why := range pl.Blocked {
		res.Errors = append(res.Errors, fmt.Sprintf("%s: not published: %s", id, why))
	}
	if pl.LabelsVerified {
		for id := range pl.Digests {
			res.Verified = append(res.Verified, id)
		}
	}
	actions := append([]report.Action(nil), pl.Actions...)
	byVariant := map[string][]int{}
	for i, a := range actions {
		if a.Kind == report.Immutable {
			byVariant[a.Variant] = append(byVariant[a.Variant], i)
		}
	}
	copies := map[string]*report.Entry{}
	for _, e := range pl.Copies {
		copies[e.ID] = e
	}

	// 1. Images by digest, then each variant's immutable tags.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	ids := make([]string, 0, len(pl.Digests))
	for id := range pl.Digests {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		digest := pl.Digests[id]
		g.Go(func() error {
			if e, ok := copies[id]; ok {
				if err := t.Copy(gctx, e, pl.Repository.Digest(digest)); err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					fail("%s: copy %s to %s: %v", id, e.Source, pl.Repository, err)
					return nil
				}
				if t.Writes() {
					mu.Lock()
					res.Copied++
					mu.Unlock()
				}
			}
			ok := true
			for _, i := range byVariant[id] {
				a := &actions[i]
				switch a.Op {
				case report.OpCreate, report.OpMove:
					if err := t.Tag(gctx, pl.Repository.Tag(a.Tag), pl.Repository.Digest(digest)); err != nil {
						if gctx.Err() != nil {
							return gctx.Err()
						}
						fail("%s: tag %s: %v", id, a.Tag, err)
						ok = false
						continue
					}
					a.Done = t.Writes()
					if a.Done {
						mu.Lock()
						res.Written++
						mu.Unlock()
					}
				case report.OpConflict:
					fail("immutable tag %s:%s points to %s, not to %s (variant %s); refusing to move it: %s", pl.Repository, a.Tag, a.From, digest, id, a.Reason)
					ok = false
				case report.OpHeld:
					ok = false
				}
			}
			if ok {
				mu.Lock()
				res.Published = append(res.Published, id)
				res.Digests[id] = digest
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		res.Actions = actions
		return res, fmt.Errorf("publish interrupted before floating tags (none moved): %w", err)
	}
	if err := ctx.Err(); err != nil {
		res.Actions = actions
		return res, fmt.Errorf("publish interrupted before floating tags (none moved): %w", err)
	}
	sort.Strings(res.Published)
	sort.Strings(res.Verified)

	// 2. Floating tags, last, and only when nothing failed so far, under a lease still ours.
	if res.FloatingHeld == "" && res.FloatingSkipped == "" && len(res.Errors) > 0 {
		res.FloatingHeld = "an image, an immutable tag or a label check failed"
	}
	if held != nil && res.FloatingHeld == "" && res.FloatingSkipped == "" {
		if err := held.Check(ctx); err != nil {
			res.FloatingHeld = err.Error()
			fail("%v", err)
		}
	}
	var moved []*report.Action
	var stopped error // why the floating step stopped early
	for i := range actions {
		a := &actions[i]
		if a.Kind != report.Floating || (a.Op != report.OpCreate && a.Op != report.OpMove) {
			continue
		}
		if hold := res.FloatingHeld + res.FloatingSkipped; hold != "" {
			a.Op, a.Reason = report.OpHeld, hold
			continue
		}
		if stopped != nil {
			a.Reason = "not written: " + stopped.Error()
			continue
		}
		if err := t.Tag(ctx, pl.Repository.Tag(a.Tag), pl.Repository.Digest(a.To)); err != nil {
			if ctx.Err() != nil {
				stopped = fmt.Errorf("publish interrupted")
			} else {
				stopped = fmt.Errorf("floating tag %s could not be written", a.Tag)
				fail("floating tag %s: %v", a.Tag, err)
			}
			a.Reason = "not written: " + err.Error()
			// The registry may have taken the write before the error (an interrupted or
			// timed-out request): it is put back too.
			if t.Writes() {
				moved = append(moved, a)
			}
			continue
		}
		a.Done = t.Writes()
		if a.Done {
			res.Written++
			moved = append(moved, a)
		}
		log.Debug("floating tag", "tag", a.Tag, "op", a.Op, "variant", a.Variant, "from", a.From, "to", a.To, "written", a.Done)
	}
	if stopped != nil {
		res.FloatingHeld = stopped.Error() + "; the floating tags moved before it were put back"
		if !p.rollback(ctx, t, pl, moved, res) {
			res.FloatingHeld = stopped.Error() + "; some floating tags could not be put back (the errors say where each points)"
		}
	}
	if t.Writes() {
		p.readBack(context.WithoutCancel(ctx), pl, actions, res)
	}
	res.Actions = actions
	sort.Strings(res.Errors)
	if stopped != nil && ctx.Err() != nil {
		return res, fmt.Errorf("publish interrupted while moving floating tags: %s", res.FloatingHeld)
	}
	return res, nil
}

// rollback puts every moved floating tag back to where it was, newest first, within
// RollbackTimeout (an interrupted publish still does this). A tag that cannot be put back is
// an error naming where it points.
func (p *Publisher) rollback(ctx context.Context, t Target, pl *Plan, moved []*report.Action, res *Result) (ok bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RollbackTimeout)
	defer cancel()
	ok = true
	for i := len(moved) - 1; i >= 0; i-- {
		a := moved[i]
		if a.From == "" {
			if a.Done {
				res.Errors = append(res.Errors, fmt.Sprintf("rollback: floating tag %s was created by this publish and points to %s (variant %s); a registry deletes manifests, not tags, so it stays: run publish again to finish the release", a.Tag, a.To, a.Variant))
				ok = false
			}
			continue
		}
		if err := t.Tag(rctx, pl.Repository.Tag(a.Tag), pl.Repository.Digest(a.From)); err != nil {
			where := "it points to " + a.To
			if !a.Done {
				where = "its write failed, so it points to " + a.From + " or to " + a.To
			}
			res.Errors = append(res.Errors, fmt.Sprintf("rollback: floating tag %s could not be put back to %s: %v; %s (variant %s)", a.Tag, a.From, err, where, a.Variant))
			ok = false
			continue
		}
		if a.Done {
			a.Reason = "moved, then put back: the release did not finish"
			res.Written--
		} else {
			a.Reason = "not written, or written and put back: " + strings.TrimPrefix(a.Reason, "not written: ")
		}
		a.Done, a.RolledBack = false, true
		res.RolledBack = append(res.RolledBack, a.Tag)
	}
	sort.Strings(res.RolledBack)
	return ok
}

// readBack reads every tag this publish wrote (or put back) and compares it with what was
// written: a tag someone else changed meanwhile is an error naming it.
func (p *Publisher) readBack(ctx context.Context, pl *Plan, actions []report.Action, res *Result) {
	type check struct{ tag, want, what string }
	var checks []check
	for _, a := range actions {
		switch {
		case a.Done:
			want := a.To
			if a.Kind == report.Immutable {
				want = pl.Digests[a.Variant]
			}
			checks = append(checks, check{a.Tag, want, "this publish wrote"})
		case a.RolledBack:
			checks = append(checks, check{a.Tag, a.From, "this publish put it back to"})
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range checks {
		g.Go(func() error {
			cur, err := p.Client.Head(gctx, pl.Repository.Tag(c.tag))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.Errors = append(res.Errors, fmt.Sprintf("read back tag %s: %v", c.tag, err))
			case cur != c.want:
				res.Errors = append(res.Errors, fmt.Sprintf("tag %s was changed by someone else during this publish: it points to %s; %s %s", c.tag, cur, c.what, c.want))
			}
			return nil
		})
	}
	_ = g.Wait()
}
