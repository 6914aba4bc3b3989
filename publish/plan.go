package publish

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Want is one variant as the registry should hold it: its entry (the image its tags should
// name, Entry.Digest, staged at Entry.Source, and the tags). The digest is known for a built
// variant (publish); before a build (plan --diff) only the variant's identity is, and an image
// under a tag is judged by its labels.
type Want struct {
	Entry *report.Entry
	// LabelsPrefix names the torchimg labels ("io.torchimg").
	LabelsPrefix string
	// Inputs are the variant's inputs, when known (to say what changed).
	Inputs *fingerprint.Inputs
}

// Plan is what publishing a release changes, computed with reads only: the images to copy
// into the release repository, every tag action, and why floating tags are held. plan --diff,
// publish --dry-run and publish compute it with the same function (MakePlan); publish then
// carries it out (Execute).
type Plan struct {
	Repository name.Repository
	// Copies are the variants whose image is not yet in the release repository.
	Copies []*report.Entry
	// Digests maps variant id → the digest its tags will name (an immutable tag that already
	// holds the same images under another index digest keeps it, and so does the variant).
	Digests map[string]string
	Actions []report.Action
	// Blocked maps variant id → why none of its tags can be written (a label that contradicts
	// the plan, an image that cannot be read).
	Blocked map[string]string
	// FloatingHeld says why no floating tag moves ("" when they do).
	FloatingHeld string
	// FloatingSkipped says why floating tags are not considered (a partial release).
	FloatingSkipped string
	// Errors are the reads of floating tags that failed (a variant whose own reads failed is
	// Blocked).
	Errors []string
	// LabelsVerified says that every variant in Digests had its labels read from its image
	// and matched against the plan.
	LabelsVerified bool
}

// PlanOptions tune MakePlan.
type PlanOptions struct {
	// Force moves immutable tags that name another image.
	Force bool
	// SkipFloating, when set, leaves every floating tag alone for this reason.
	SkipFloating string
	// Complete says whether every variant of the release is there and passed; when not, the
	// reason holds the floating tags.
	Complete func() (bool, string)
	// VerifyLabels reads each image's labels from Source before any tag is planned.
	VerifyLabels bool
}

// MakePlan reads the release repository and decides every tag action of wants.
func MakePlan(ctx context.Context, c *registry.Client, repo name.Repository, wants []Want, o PlanOptions) (*Plan, error) {
	p := &Plan{Repository: repo, Digests: map[string]string{}, Blocked: map[string]string{}, LabelsVerified: o.VerifyLabels}
	var mu sync.Mutex
	labels := inspect.NewLabels(c)
	var imm []report.Action
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, w := range wants {
		e := w.Entry
		if !e.Publishable() {
			for _, t := range e.ImmutableTags {
				imm = append(imm, report.Action{Tag: t, Kind: report.Immutable, Op: report.OpHeld, Variant: e.ID, Reason: "variant " + string(e.Status)})
			}
			continue
		}
		g.Go(func() error {
			acts, digest, copyNeeded, blocked := planVariant(gctx, c, labels, repo, w, o)
			mu.Lock()
			defer mu.Unlock()
			if blocked != "" {
				p.Blocked[e.ID] = blocked
				for _, t := range e.ImmutableTags {
					imm = append(imm, report.Action{Tag: t, Kind: report.Immutable, Op: report.OpHeld, Variant: e.ID, Reason: blocked})
				}
				return nil
			}
			imm = append(imm, acts...)
			p.Digests[e.ID] = digest
			if copyNeeded {
				p.Copies = append(p.Copies, e)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Floating tags, decided on the same reads, 8 at a time.
	var fl []report.Action
	var of []Want // the want of each floating action
	for _, w := range wants {
		for _, t := range w.Entry.FloatingTags {
			fl = append(fl, report.Action{Tag: t, Kind: report.Floating, Variant: w.Entry.ID})
			of = append(of, w)
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range fl {
		a, w, t := &fl[i], of[i], fl[i].Tag
		e := w.Entry
		to, ok := p.Digests[e.ID]
		switch {
		case !e.Publishable():
			a.Op, a.Reason = report.OpHeld, "variant "+string(e.Status)
			continue
		case !ok:
			a.Op, a.Reason = report.OpHeld, "variant "+e.ID+": "+p.Blocked[e.ID]
			continue
		}
		a.To = to
		g.Go(func() error {
			cur, err := c.Head(gctx, repo.Tag(t))
			switch {
			case registry.IsNotFound(err):
				a.Op = report.OpCreate
			case err != nil:
				a.Op, a.Reason = report.OpHeld, err.Error()
				mu.Lock()
				p.Errors = append(p.Errors, fmt.Sprintf("floating tag %s: read the registry: %v", t, err))
				mu.Unlock()
			case cur == to || (to == "" && names(labels.Of(gctx, repo.Digest(cur)), w)):
				a.Op, a.From = report.OpUnchanged, cur
			default:
				a.Op, a.From = report.OpMove, cur
				a.FromVariant = labels.Of(gctx, repo.Digest(cur))[w.LabelsPrefix+"."+matrix.LabelVariant]
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	conflicted := false
	for _, a := range imm {
		conflicted = conflicted || a.Op == report.OpConflict
	}
	complete, why := true, ""
	if o.Complete != nil {
		complete, why = o.Complete()
	}
	switch {
	case o.SkipFloating != "":
		p.FloatingSkipped = o.SkipFloating
	case !complete:
		p.FloatingHeld = why
	case conflicted:
		p.FloatingHeld = "an immutable tag conflicted"
	case len(p.Blocked) > 0:
		p.FloatingHeld = "a variant's image cannot be published (" + firstBlocked(p.Blocked) + ")"
	case len(p.Errors) > 0:
		p.FloatingHeld = "the registry could not be read"
	}
	if hold := p.FloatingHeld + p.FloatingSkipped; hold != "" {
		for i := range fl {
			if fl[i].Op != report.OpUnchanged {
				fl[i].Op, fl[i].Reason = report.OpHeld, hold
			}
		}
	}
	p.Actions = append(imm, fl...)
	sortActions(p.Actions)
	sort.Slice(p.Copies, func(i, j int) bool { return p.Copies[i].ID < p.Copies[j].ID })
	sort.Strings(p.Errors)
	return p, nil
}

// planVariant reads what one variant's tags hold now and decides their actions. blocked says
// why none of its tags may be written.
func planVariant(ctx context.Context, c *registry.Client, labels *inspect.Labels, repo name.Repository, w Want, o PlanOptions) (acts []report.Action, digest string, copyNeeded bool, blocked string) {
	e := w.Entry
	digest = e.Digest
	var src name.Reference
	if e.Source != "" {
		var err error
		if src, err = c.Ref(e.Source); err != nil {
			return nil, "", false, err.Error()
		}
	}
	if e.Digest != "" {
		// The image itself: in the repository already, or to be copied from its staged source.
		at := name.Reference(repo.Digest(e.Digest))
		_, err := c.Head(ctx, at)
		switch {
		case registry.IsNotFound(err) && src != nil:
			copyNeeded, at = true, src
			if d, err := c.Head(ctx, src); err != nil || d != e.Digest {
				why := fmt.Sprintf("the report names image %s (%s), which is neither in %s nor at %s", e.Digest, e.Status, repo, e.Source)
				if err == nil {
					why = fmt.Sprintf("the report names image %s (%s), but %s is %s", e.Digest, e.Status, e.Source, d)
				} else if !registry.IsNotFound(err) {
					why = fmt.Sprintf("read %s: %v", e.Source, err)
				}
				return nil, "", false, why
			}
		case registry.IsNotFound(err):
			why := fmt.Sprintf("the report names image %s, which is not in %s and has no staged source", e.Digest, repo)
			return nil, "", false, why
		case err != nil:
			return nil, "", false, fmt.Sprintf("read %s: %v", at, err)
		}
		// Its labels, before any tag names it.
		if o.VerifyLabels {
			if err := verifyLabels(ctx, c, at, e.Labels); err != nil {
				return nil, "", false, err.Error()
			}
		}
	}
	for _, t := range e.ImmutableTags {
		a := report.Action{Tag: t, Kind: report.Immutable, Variant: e.ID, To: e.Digest}
		cur, err := c.Head(ctx, repo.Tag(t))
		switch {
		case registry.IsNotFound(err):
			a.Op = report.OpCreate
		case err != nil:
			return nil, "", false, fmt.Sprintf("its immutable tag %s could not be read: %v", t, err)
		case e.Digest != "" && cur == e.Digest:
			a.Op = report.OpUnchanged
		case e.Digest == "" && names(labels.Of(ctx, repo.Digest(cur)), w):
			a.Op, a.From = report.OpUnchanged, cur
		case src != nil && sameImages(ctx, c, repo.Digest(cur), src):
			a.Op, a.From, a.To, a.Reason = report.OpUnchanged, cur, cur, "already holds the same image (rebuilt; only the attestation differs)"
			digest, copyNeeded = cur, false
		default:
			a.From = cur
			ls := labels.Of(ctx, repo.Digest(cur))
			a.FromVariant = ls[w.LabelsPrefix+"."+matrix.LabelVariant]
			switch {
			case o.Force:
				a.Op, a.Reason = report.OpMove, "forced"
			case a.FromVariant == e.ID:
				now := w.Inputs
				if now == nil && src != nil {
					if in, _, ok := fingerprint.FromLabels(w.LabelsPrefix, labels.Of(ctx, src.Context().Digest(e.Digest))); ok {
						now = &in
					}
				}
				a.Op, a.Reason = report.OpConflict, changedContent(w.LabelsPrefix, ls, now)
			default:
				a.Op, a.Reason = report.OpConflict, "an immutable tag already names another image"
			}
		}
		acts = append(acts, a)
	}
	return acts, digest, copyNeeded, ""
}

func sameImages(ctx context.Context, c *registry.Client, a, b name.Reference) bool {
	same, err := c.SameImages(ctx, a, b)
	return err == nil && same
}

// names reports whether an image (by its labels) is the one w wants, when the digest is not
// known yet: the same inputs (when known), else the same variant.
func names(ls map[string]string, w Want) bool {
	if ls == nil {
		return false
	}
	if w.Entry.Inputs != "" {
		return ls[w.LabelsPrefix+"."+matrix.LabelInputs] == w.Entry.Inputs
	}
	return ls[w.LabelsPrefix+"."+matrix.LabelVariant] == w.Entry.ID
}

// changedContent explains a conflict on an immutable tag that names an image of the same
// variant made from other inputs: the tag lacks the fingerprint.
func changedContent(prefix string, ls map[string]string, now *fingerprint.Inputs) string {
	why := "its inputs changed"
	if was, _, ok := fingerprint.FromLabels(prefix, ls); ok && now != nil {
		if ch := fingerprint.Changed(was, *now); len(ch) > 0 {
			why = "its inputs changed: " + strings.Join(ch, ", ")
		}
	}
	return "the tag already names an image of this variant built from other inputs (" + why + "); an immutable tag names one content: put {{.Inputs}} in the immutable tag template (e.g. \"{{.Torch}}-cuda{{.CUDA.Full}}-{{.Flavor}}-{{.OS}}-{{.Inputs}}\") so that new inputs get a new tag, or use --force to move it"
}

// verifyLabels reads an image's config and checks every planned label.
func verifyLabels(ctx context.Context, c *registry.Client, ref name.Reference, want map[string]string) error {
	info, err := inspect.Remote(ctx, c, ref)
	if err != nil {
		return fmt.Errorf("read labels: %w", err)
	}
	var bad []string
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got := info.Labels[k]; got != want[k] {
			bad = append(bad, fmt.Sprintf("%s: plan %q, image %q", k, want[k], got))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the labels of %s differ from the plan: %s", ref, strings.Join(bad, "; "))
	}
	return nil
}

func firstBlocked(m map[string]string) string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids[0] + ": " + m[ids[0]]
}

// sortActions puts immutable tags first, then floating ones, each in natural order.
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
