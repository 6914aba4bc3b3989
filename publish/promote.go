package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/report"
)

// Publisher promotes a release.
type Publisher struct {
	Options Options
	// Force moves immutable tags that point to another image.
	Force bool
	// DryRun computes the actions and changes nothing.
	DryRun bool
	// SkipFloating, when set, publishes images and immutable tags only and leaves every
	// floating tag alone, for this reason (a shard of a release: the rest is not built here).
	SkipFloating string
	Log          *slog.Logger
}

// Result of a publish.
type Result struct {
	Repository string
	Actions    []report.Action
	// Published are the variants whose image and immutable tags are in the release repository.
	Published []string
	// Digests maps variant id → the digest its tags point to.
	Digests map[string]string
	// FloatingHeld says why floating tags did not move ("" when they did).
	FloatingHeld string
	// FloatingSkipped says why floating tags were not considered (a partial release).
	FloatingSkipped string
	Verified        []string
	Errors          []string
}

// Failed reports whether anything went wrong.
func (r *Result) Failed() bool { return len(r.Errors) > 0 || r.FloatingHeld != "" }

// Publish copies every passing variant by digest into repo, tags immutable tags, then —
// only when the release is complete, every variant passed and no immutable tag conflicted —
// moves the floating tags. Re-running finishes an interrupted publish; nothing is uploaded twice.
func (p *Publisher) Publish(ctx context.Context, rel *Release, repo string) (*Result, error) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("release repository %q: %w", repo, err)
	}
	opts := p.Options.remote(ctx)
	res := &Result{Repository: target.Name(), Digests: map[string]string{}}
	var mu sync.Mutex
	record := func(a report.Action) {
		mu.Lock()
		res.Actions = append(res.Actions, a)
		mu.Unlock()
	}
	fail := func(format string, args ...any) {
		mu.Lock()
		res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}

	// 1. Images by digest, then immutable tags, per passing variant.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	conflicted := false
	for _, e := range rel.Entries {
		if !e.Publishable() {
			for _, t := range e.ImmutableTags {
				record(report.Action{Tag: t, Kind: report.Immutable, Op: report.OpHeld, Variant: e.ID, Reason: "variant " + string(e.Status)})
			}
			continue
		}
		g.Go(func() error {
			if err := p.copyImage(gctx, e, target, opts); err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fail("%s: copy %s to %s: %v", e.ID, e.Source, target.Name(), err)
				return nil
			}
			effective := e.Digest
			ok := true
			for _, t := range e.ImmutableTags {
				a, eff, err := p.immutableTag(gctx, target.Tag(t), e, opts)
				if err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					fail("%s: tag %s: %v", e.ID, t, err)
					ok = false
					continue
				}
				if a.Op == report.OpConflict {
					mu.Lock()
					conflicted = true
					res.Errors = append(res.Errors, fmt.Sprintf("immutable tag %s:%s points to %s, not to %s (variant %s); refusing to move it (use --force to overwrite)", target.Name(), t, a.From, e.Digest, e.ID))
					mu.Unlock()
					ok = false
				}
				if eff != "" {
					effective = eff
				}
				record(a)
			}
			if ok {
				mu.Lock()
				res.Published = append(res.Published, e.ID)
				res.Digests[e.ID] = effective
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("publish interrupted before floating tags (none moved): %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("publish interrupted before floating tags (none moved): %w", err)
	}

	// 2. Read the labels back and check them against the plan, before any floating tag moves.
	if !p.DryRun {
		for _, e := range rel.Entries {
			d, ok := res.Digests[e.ID]
			if !ok {
				continue
			}
			if err := verifyLabels(ctx, target.Digest(d), e.Labels, opts); err != nil {
				fail("%s: %v", e.ID, err)
				continue
			}
			res.Verified = append(res.Verified, e.ID)
		}
		sort.Strings(res.Verified)
	}

	// 3. Floating tags, last, all or none.
	errsBefore := len(res.Errors)
	floating := p.floatingActions(ctx, rel, target, res, opts)
	complete, why := rel.Complete()
	switch {
	case p.SkipFloating != "":
		res.FloatingSkipped = p.SkipFloating
	case !complete:
		res.FloatingHeld = why
	case conflicted:
		res.FloatingHeld = "an immutable tag conflicted"
	case errsBefore > 0:
		res.FloatingHeld = "an image, an immutable tag or a label check failed"
	case len(res.Errors) > errsBefore:
		res.FloatingHeld = "the current floating tags could not be read"
	}
	if hold := res.FloatingHeld + res.FloatingSkipped; hold != "" {
		for i := range floating {
			floating[i].Reason = hold
			if floating[i].Op != report.OpUnchanged {
				floating[i].Op = report.OpHeld
			}
		}
		res.Actions = append(res.Actions, floating...)
	} else {
		for i := range floating {
			a := &floating[i]
			if a.Op == report.OpCreate || a.Op == report.OpMove {
				if !p.DryRun {
					if err := p.putTag(ctx, target.Tag(a.Tag), target.Digest(a.To), opts); err != nil {
						fail("floating tag %s: %v", a.Tag, err)
						continue
					}
					a.Done = true
				}
				log.Debug("floating tag", "tag", a.Tag, "op", a.Op, "variant", a.Variant, "from", a.From, "to", a.To, "dry_run", p.DryRun)
			}
		}
		res.Actions = append(res.Actions, floating...)
	}
	sortActions(res.Actions)
	sort.Strings(res.Published)

	return res, nil
}

// floatingActions computes what each floating tag of the release would do.
func (p *Publisher) floatingActions(ctx context.Context, rel *Release, target name.Repository, res *Result, opts []remote.Option) []report.Action {
	var out []report.Action
	for _, e := range rel.Entries {
		for _, t := range e.FloatingTags {
			a := report.Action{Tag: t, Kind: report.Floating, Variant: e.ID}
			to, ok := res.Digests[e.ID]
			if !ok {
				a.Op, a.Reason = report.OpHeld, "variant "+string(e.Status)
				out = append(out, a)
				continue
			}
			a.To = to
			cur, err := head(ctx, target.Tag(t), opts)
			switch {
			case isNotFound(err):
				a.Op = report.OpCreate
			case err != nil:
				a.Op, a.Reason = report.OpHeld, err.Error()
				res.Errors = append(res.Errors, fmt.Sprintf("floating tag %s: read the registry: %v", t, err))
			case cur == to:
				a.Op = report.OpUnchanged
			default:
				a.Op, a.From = report.OpMove, cur
				a.FromVariant = variantOf(ctx, target.Digest(cur), rel.LabelsPrefix, opts)
			}
			out = append(out, a)
		}
	}
	return out
}

func sortActions(as []report.Action) {
	rank := map[report.TagKind]int{report.Immutable: 0, report.Floating: 1}
	sort.SliceStable(as, func(i, j int) bool {
		if rank[as[i].Kind] != rank[as[j].Kind] {
			return rank[as[i].Kind] < rank[as[j].Kind]
		}
		return naturalLess(as[i].Tag, as[j].Tag)
	})
}

// naturalLess orders tags with their numbers compared as numbers (2.9 before 2.10).
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func head(ctx context.Context, ref name.Reference, opts []remote.Option) (string, error) {
	var d string
	err := retryLoop(ctx, 4, func() error {
		desc, err := remote.Head(ref, opts...)
		if err == nil {
			d = desc.Digest.String()
		}
		return err
	})
	return d, err
}

// copyImage puts the staged image into the release repository under its digest. Blobs that
// are already there are skipped; the others are mounted from the staging repository.
func (p *Publisher) copyImage(ctx context.Context, e *report.Entry, target name.Repository, opts []remote.Option) error {
	dst := target.Digest(e.Digest)
	if _, err := head(ctx, dst, opts); err == nil {
		return nil
	} else if !isNotFound(err) {
		return err
	}
	if p.DryRun {
		return nil
	}
	src, err := parseRef(e.Source)
	if err != nil {
		return err
	}
	return retryLoop(ctx, 4, func() error {
		desc, err := remote.Get(src, opts...)
		if err != nil {
			return err
		}
		if desc.Digest.String() != e.Digest {
			return fmt.Errorf("staged %s is %s, the build report says %s", e.Source, desc.Digest, e.Digest)
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				return err
			}
			return remote.WriteIndex(dst, idx, opts...)
		}
		img, err := desc.Image()
		if err != nil {
			return err
		}
		return remote.Write(dst, img, opts...)
	})
}

// immutableTag creates an immutable tag or checks it. An existing tag on another digest is a
// conflict unless it holds the same images (a rebuild that differs only in its provenance
// attestation), in which case it stays where it is and that digest is the variant's.
func (p *Publisher) immutableTag(ctx context.Context, tag name.Tag, e *report.Entry, opts []remote.Option) (report.Action, string, error) {
	a := report.Action{Tag: tag.TagStr(), Kind: report.Immutable, Variant: e.ID, To: e.Digest}
	cur, err := head(ctx, tag, opts)
	switch {
	case isNotFound(err):
		a.Op = report.OpCreate
	case err != nil:
		return a, "", err
	case cur == e.Digest:
		a.Op = report.OpUnchanged
		return a, "", nil
	default:
		a.From = cur
		same, serr := sameImages(ctx, tag.Context().Digest(cur), e.Source, opts)
		if serr == nil && same {
			a.Op, a.To, a.Reason = report.OpUnchanged, cur, "already holds the same image (rebuilt; only the attestation differs)"
			return a, cur, nil
		}
		if !p.Force {
			a.Op = report.OpConflict
			a.FromVariant = variantOf(ctx, tag.Context().Digest(cur), "", opts)
			return a, "", nil
		}
		a.Op, a.Reason = report.OpMove, "forced"
	}
	if p.DryRun {
		return a, "", nil
	}
	if err := p.putTag(ctx, tag, tag.Context().Digest(e.Digest), opts); err != nil {
		return a, "", err
	}
	a.Done = true
	return a, "", nil
}

// putTag points tag at an image already in the repository: one manifest PUT, no blobs.
func (p *Publisher) putTag(ctx context.Context, tag name.Tag, at name.Digest, opts []remote.Option) error {
	return retryLoop(ctx, 4, func() error {
		desc, err := remote.Get(at, opts...)
		if err != nil {
			return err
		}
		return remote.Tag(tag, desc, opts...)
	})
}

// sameImages compares the platform images of the image a tag holds with the staged image
// (attestations ignored).
func sameImages(ctx context.Context, cur name.Digest, staged string, opts []remote.Option) (bool, error) {
	src, err := parseRef(staged)
	if err != nil {
		return false, err
	}
	ia, err := platformDigests(ctx, cur, opts)
	if err != nil {
		return false, err
	}
	ib, err := platformDigests(ctx, src, opts)
	if err != nil {
		return false, err
	}
	return slices.Equal(ia, ib), nil
}

func platformDigests(ctx context.Context, ref name.Reference, opts []remote.Option) ([]string, error) {
	var desc *remote.Descriptor
	err := retryLoop(ctx, 4, func() error {
		var err error
		desc, err = remote.Get(ref, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return []string{desc.Digest.String()}, nil
	}
	idx, err := v1.ParseIndexManifest(bytesReader(desc.Manifest))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		out = append(out, m.Digest.String())
	}
	sort.Strings(out)
	return out, nil
}

// variantOf reads the variant label of an image (best effort, for messages).
func variantOf(ctx context.Context, ref name.Digest, prefix string, opts []remote.Option) string {
	info, err := inspectRemote(ctx, ref, opts)
	if err != nil {
		return ""
	}
	if prefix == "" {
		prefix = info.Prefix
	}
	return info.Labels[prefix+".variant"]
}

// verifyLabels reads the image config back from the registry and checks every planned label.
func verifyLabels(ctx context.Context, ref name.Digest, want map[string]string, opts []remote.Option) error {
	var info *report.Info
	err := retryLoop(ctx, 4, func() error {
		var err error
		info, err = inspectRemote(ctx, ref, opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("read labels back from %s: %w", ref, err)
	}
	var bad []string
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got := info.Labels[k]; got != want[k] {
			bad = append(bad, fmt.Sprintf("%s: plan %q, registry %q", k, want[k], got))
		}
	}
	if len(bad) > 0 {
		return errors.New("labels in the registry differ from the plan: " + fmt.Sprint(bad))
	}
	return nil
}
