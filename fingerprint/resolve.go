package fingerprint

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/templates"
)

// Variant is one variant with everything its image is made of: the rendered build context,
// the resolved base image, the timestamp, and the fingerprint of it all.
type Variant struct {
	Variant *matrix.Variant
	Context *templates.Context
	Inputs  Inputs
	// Digest is Inputs.Digest(); "" when the context could not be rendered (RenderErr) or the
	// base image resolved (BaseErr).
	Digest    string
	RenderErr error
	BaseErr   error
}

// Base is a base image resolved through the registry.
type Base struct {
	Digest  string // of the reference (an index for a multi-platform image)
	Image   string // of its linux/amd64 image's manifest ("" when not read)
	Created int64  // Unix time of its linux/amd64 image's `created`; 0 unknown
}

// PlatformDigest is the linux/amd64 image's digest, else the reference's.
func (b Base) PlatformDigest() string {
	if b.Image != "" {
		return b.Image
	}
	return b.Digest
}

// Resolver resolves base images through a registry, each once.
type Resolver struct {
	c     *registry.Client
	mu    sync.Mutex
	bases map[string]*baseOnce
}

type baseOnce struct {
	once sync.Once
	base Base
	err  error
}

// NewResolver resolves through c.
func NewResolver(c *registry.Client) *Resolver { return &Resolver{c: c, bases: map[string]*baseOnce{}} }

// Base resolves one base image reference (manifest and config only).
func (r *Resolver) Base(ctx context.Context, ref string) (Base, error) {
	r.mu.Lock()
	b, ok := r.bases[ref]
	if !ok {
		b = &baseOnce{}
		r.bases[ref] = b
	}
	r.mu.Unlock()
	b.once.Do(func() { b.base, b.err = r.resolve(ctx, ref) })
	return b.base, b.err
}

func (r *Resolver) resolve(ctx context.Context, s string) (Base, error) {
	ref, err := r.c.Ref(s)
	if err != nil {
		return Base{}, err
	}
	info, err := inspect.Remote(ctx, r.c, ref)
	if err != nil {
		return Base{}, fmt.Errorf("base image: %w", err)
	}
	b := Base{Digest: info.Digest, Image: info.ImageDigest}
	if info.Created != nil && info.Created.Unix() > 0 {
		b.Created = info.Created.Unix()
	}
	return b, nil
}

// Epoch says which SOURCE_DATE_EPOCH a variant gets: a fixed one (>= 0), or, by default
// (FromBase), the creation time of its base image — an input of its own, where the matrix
// file's commit time would change every image on any edit.
type Epoch int64

// FromBase is the default Epoch.
const FromBase Epoch = -1

// Of returns the epoch of a variant on base b.
func (e Epoch) Of(b Base) int64 {
	if e >= 0 {
		return int64(e)
	}
	return b.Created
}

// Resolve renders every variant's context, resolves its base image through r (each base once,
// 8 at a time) and computes its inputs, in the order of vs. A variant that cannot be rendered
// has RenderErr; one whose base cannot be resolved here has BaseErr (its builder resolves the
// base itself, and the fingerprint follows from that).
func Resolve(ctx context.Context, r *Resolver, p *matrix.Plan, vs []*matrix.Variant, epoch Epoch) ([]*Variant, error) {
	out := make([]*Variant, len(vs))
	for i, v := range vs {
		c, err := templates.Render(p, v)
		out[i] = &Variant{Variant: v, Context: c, RenderErr: err}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, rv := range out {
		if rv.RenderErr != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := r.Base(ctx, rv.Variant.Base)
			if err != nil {
				rv.BaseErr = err
				return
			}
			rv.Inputs = New(rv.Context.Files, rv.Variant.BuildArgs, b.Digest, epoch.Of(b))
			rv.Digest = rv.Inputs.Digest()
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}

// Digests maps variant id → fingerprint (of those that have one), for matrix.Plan.SetInputs.
func Digests(vs []*Variant) map[string]string {
	out := make(map[string]string, len(vs))
	for _, v := range vs {
		if v.Digest != "" {
			out[v.Variant.ID] = v.Digest
		}
	}
	return out
}

// Labels are the labels and annotations that record inputs on an image (prefix: the plan's
// label namespace). The base digest and `created` have their OCI labels.
func Labels(prefix string, in Inputs) map[string]string {
	return map[string]string{
		prefix + "." + matrix.LabelInputs:        in.Digest(),
		prefix + "." + matrix.LabelInputsContext: in.Context,
		prefix + "." + matrix.LabelInputsProbe:   in.Probe,
		prefix + "." + matrix.LabelInputsRecipe:  strconv.Itoa(in.Recipe),
		matrix.OCIBaseDigest:                     in.BaseDigest,
		matrix.OCICreated:                        time.Unix(in.SourceDateEpoch, 0).UTC().Format(time.RFC3339),
	}
}

// FromLabels reads the inputs an image records (Labels); ok is false for an image without them.
func FromLabels(prefix string, labels map[string]string) (in Inputs, fp string, ok bool) {
	fp = labels[prefix+"."+matrix.LabelInputs]
	if fp == "" {
		return Inputs{}, "", false
	}
	in = Inputs{Context: labels[prefix+"."+matrix.LabelInputsContext], BaseDigest: labels[matrix.OCIBaseDigest],
		Probe: labels[prefix+"."+matrix.LabelInputsProbe], Platform: Platform}
	in.Recipe, _ = strconv.Atoi(labels[prefix+"."+matrix.LabelInputsRecipe])
	if t, err := time.Parse(time.RFC3339, labels[matrix.OCICreated]); err == nil {
		in.SourceDateEpoch = t.Unix()
	}
	return in, fp, true
}
