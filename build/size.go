package build

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/report"
)

// imageFacts reads what a result's image is made of (manifests only: no layer is downloaded):
// the size of config and layers of its platform image(s), attestations not counted, and the
// digest of its (first) platform image, which the same inputs reproduce.
func imageFacts(ctx context.Context, c *registry.Client, r *report.BuildEntry) (size int64, image string, err error) {
	var idx v1.ImageIndex
	single := func(img v1.Image) (int64, string, error) {
		n, err := manifestSize(img)
		if err != nil {
			return 0, "", err
		}
		d, err := img.Digest()
		return n, d.String(), err
	}
	switch {
	case r.StagedRef != "" && c != nil:
		ref, err := c.Ref(r.StagedRef)
		if err != nil {
			return 0, "", err
		}
		d, err := c.Get(ctx, ref)
		if err != nil {
			return 0, "", fmt.Errorf("read %s: %w", r.StagedRef, err)
		}
		if !d.MediaType.IsIndex() {
			img, err := d.Image()
			if err != nil {
				return 0, "", err
			}
			return single(img)
		}
		if idx, err = d.ImageIndex(); err != nil {
			return 0, "", err
		}
	case r.OCIDir != "":
		root, err := layout.ImageIndexFromPath(r.OCIDir)
		if err != nil {
			return 0, "", fmt.Errorf("read %s: %w", r.OCIDir, err)
		}
		im, err := root.IndexManifest()
		if err != nil || len(im.Manifests) == 0 {
			return 0, "", fmt.Errorf("read %s: empty layout", r.OCIDir)
		}
		if !im.Manifests[0].MediaType.IsIndex() {
			img, err := root.Image(im.Manifests[0].Digest)
			if err != nil {
				return 0, "", err
			}
			return single(img)
		}
		if idx, err = root.ImageIndex(im.Manifests[0].Digest); err != nil {
			return 0, "", err
		}
	default:
		return 0, "", nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, "", err
	}
	for _, m := range registry.Images(im) {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return 0, "", err
		}
		n, err := manifestSize(img)
		if err != nil {
			return 0, "", err
		}
		size += n
		if image == "" {
			image = m.Digest.String()
		}
	}
	return size, image, nil
}

func manifestSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
