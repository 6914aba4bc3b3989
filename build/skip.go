package build

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Skip reports a variant as unchanged, without building it, when an image with its input
// fingerprint is already where the build would put it or publish would take it from: the
// staging repository (tag = variant id) or the release repository (its first immutable tag),
// or, for OCI layout output, its layout. Only manifests and configs are read. An image whose
// fingerprint label differs from the one recomputed now is not trusted: the variant is built.
type Skip struct {
	Inner    Interface
	Registry *registry.Client
	// Release is the release repository.
	Release string
}

var _ Interface = (*Skip)(nil)

// Build implements Interface.
func (s *Skip) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	if req.Inputs == nil {
		return s.Inner.Build(ctx, req)
	}
	v, fp := req.Variant, req.Inputs.Digest()
	pre := req.Plan.LabelsPrefix
	same := func(info *report.Info) bool {
		return info.Labels[pre+"."+matrix.LabelInputs] == fp && info.Labels[pre+"."+matrix.LabelVariant] == v.ID
	}
	res := newResult(req)
	res.Inputs, res.BaseDigest = fp, req.Inputs.BaseDigest
	if req.Output.StageRepo == "" {
		dir := ociDir(req)
		if info, err := inspect.Image(ctx, s.Registry, "oci:"+dir, false); err == nil && same(info) {
			res.OCIDir, res.Digest, res.ImageDigest, res.Size = dir, info.Digest, info.ImageDigest, info.Size
			res.Notes = append(res.Notes, "unchanged: the OCI layout "+filepath.Base(dir)+" has the same inputs")
			return finish(res, report.Unchanged, "", nil)
		}
		return s.Inner.Build(ctx, req)
	}
	var where []string
	where = append(where, req.Output.StageRepo+":"+v.ID)
	if len(v.ImmutableTags) > 0 && !v.TagsPending() {
		where = append(where, s.Release+":"+v.ImmutableTags[0])
	}
	for _, ref := range where {
		r, err := s.Registry.Ref(ref)
		if err != nil {
			continue
		}
		info, err := inspect.Remote(ctx, s.Registry, r)
		if err != nil || !same(info) {
			continue
		}
		res.Digest, res.ImageDigest, res.Size = info.Digest, info.ImageDigest, info.Size
		res.StagedRef = r.Context().Name() + "@" + info.Digest
		res.Notes = append(res.Notes, fmt.Sprintf("unchanged: %s has the same inputs", ref))
		return finish(res, report.Unchanged, "", nil)
	}
	return s.Inner.Build(ctx, req)
}
