// Package publish promotes staged images to the release repository: it merges the build and
// smoke reports of a release, plans every tag action with reads only (MakePlan), and carries
// the plan out through a Target (the registry, or a dry run): images by digest first (blobs
// mounted across repositories, nothing uploaded twice), immutable tags next, floating tags last
// and only when the whole release passed. It also writes the release record.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

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
	Log          *slog.Logger
}

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
	// Copied counts the images copied into the repository, Written the tags written.
	Copied, Written int
	Errors          []string
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
	pl, err := MakePlan(ctx, p.Client, target, rel.Wants(), PlanOptions{
		Force: p.Force, SkipFloating: p.SkipFloating, Complete: rel.Complete, VerifyLabels: true,
	})
	if err != nil {
		return nil, fmt.Errorf("plan the release: %w", err)
	}
	return p.Execute(ctx, pl)
}

// Execute carries out a plan: copies, then immutable tags (4 variants at a time), then the
// floating tags when nothing failed. The result's actions say what was done.
func (p *Publisher) Execute(ctx context.Context, pl *Plan) (*Result, error) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := p.Target
	if t == nil {
		t = Registry{Client: p.Client}
	}
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

	// 2. Floating tags, last, and only when nothing failed so far.
	if res.FloatingHeld == "" && res.FloatingSkipped == "" && len(res.Errors) > 0 {
		res.FloatingHeld = "an image, an immutable tag or a label check failed"
	}
	for i := range actions {
		a := &actions[i]
		if a.Kind != report.Floating || (a.Op != report.OpCreate && a.Op != report.OpMove) {
			continue
		}
		if hold := res.FloatingHeld + res.FloatingSkipped; hold != "" {
			a.Op, a.Reason = report.OpHeld, hold
			continue
		}
		if err := t.Tag(ctx, pl.Repository.Tag(a.Tag), pl.Repository.Digest(a.To)); err != nil {
			if errors.Is(err, context.Canceled) {
				res.Actions = actions
				return res, fmt.Errorf("publish interrupted while moving floating tags: %w", err)
			}
			fail("floating tag %s: %v", a.Tag, err)
			continue
		}
		a.Done = t.Writes()
		if a.Done {
			res.Written++
		}
		log.Debug("floating tag", "tag", a.Tag, "op", a.Op, "variant", a.Variant, "from", a.From, "to", a.To, "written", a.Done)
	}
	res.Actions = actions
	sort.Strings(res.Errors)
	return res, nil
}
