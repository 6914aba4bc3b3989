package publish

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/report"
)

// IsLayout reports whether s names an OCI image layout: "oci:DIR", or a directory with index.json.
func IsLayout(s string) (dir string, ok bool) {
	if d, found := strings.CutPrefix(s, "oci:"); found {
		return d, true
	}
	if st, err := os.Stat(filepath.Join(s, "index.json")); err == nil && !st.IsDir() {
		return s, true
	}
	return "", false
}

// Inspect reads an image from a registry reference or an OCI layout (see IsLayout). With
// listTags, it also finds every tag of the repository that points to the same digest.
func Inspect(ctx context.Context, ref string, o Options, listTags bool) (*report.Info, error) {
	if dir, ok := IsLayout(ref); ok {
		return inspectLayout(dir)
	}
	r, err := parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	opts := o.remote(ctx)
	info, err := inspectRemote(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	if listTags {
		tags, err := tagsAt(ctx, r.Context(), info.Digest, opts)
		if err != nil {
			return info, fmt.Errorf("list tags of %s: %w", r.Context(), err)
		}
		info.Tags = tags
	}
	return info, nil
}

func inspectRemote(ctx context.Context, ref name.Reference, opts []remote.Option) (*report.Info, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: not found in the registry", ref)
		}
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	info := &report.Info{Ref: ref.String(), Digest: desc.Digest.String()}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		if img, err = pickImage(idx, info); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
	} else {
		if img, err = desc.Image(); err != nil {
			return nil, err
		}
	}
	return info, fill(info, img)
}

func inspectLayout(dir string) (*report.Info, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("OCI layout %s holds no image", dir)
	}
	top := im.Manifests[0]
	info := &report.Info{Ref: "oci:" + dir, Digest: top.Digest.String()}
	for _, m := range im.Manifests {
		if m.Digest == top.Digest {
			if n := m.Annotations["org.opencontainers.image.ref.name"]; n != "" {
				info.Tags = append(info.Tags, n)
			}
			if n := m.Annotations["io.containerd.image.name"]; n != "" {
				if t, err := name.NewTag(n); err == nil {
					info.Tags = append(info.Tags, t.TagStr())
				}
			}
		}
	}
	info.Tags = uniq(info.Tags)
	var img v1.Image
	if top.MediaType.IsIndex() {
		idx, err := root.ImageIndex(top.Digest)
		if err != nil {
			return nil, err
		}
		if img, err = pickImage(idx, info); err != nil {
			return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
	} else if img, err = root.Image(top.Digest); err != nil {
		return nil, err
	}
	return info, fill(info, img)
}

// pickImage selects the linux/amd64 image of an index (attestations skipped).
func pickImage(idx v1.ImageIndex, info *report.Info) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	info.IndexAnnotations = im.Annotations
	var chosen *v1.Descriptor
	for i, m := range im.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" || !m.MediaType.IsImage() {
			continue
		}
		if chosen == nil || (m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64") {
			chosen = &im.Manifests[i]
		}
	}
	if chosen == nil {
		return nil, fmt.Errorf("the index holds no image")
	}
	if chosen.Platform != nil {
		info.Platform = chosen.Platform.String()
	}
	return idx.Image(chosen.Digest)
}

func fill(info *report.Info, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	info.ImageDigest = d.String()
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("read image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	info.Annotations = m.Annotations
	info.Size = m.Config.Size
	for _, l := range m.Layers {
		info.Size += l.Size
	}
	if !cf.Created.IsZero() {
		c := cf.Created.UTC()
		info.Created = &c
	}
	if info.Platform == "" {
		info.Platform = cf.OS + "/" + cf.Architecture
	}
	info.Labels = cf.Config.Labels
	if info.Labels == nil {
		info.Labels = map[string]string{}
	}
	info.Env = require.EnvMap(cf.Config.Env)
	info.Prefix = detectPrefix(info.Labels)
	return nil
}

// detectPrefix finds the torchimg label namespace: the P with P.schema-version and P.torch.version.
func detectPrefix(labels map[string]string) string {
	var found []string
	for k := range labels {
		if p, ok := strings.CutSuffix(k, ".schema-version"); ok {
			if _, ok := labels[p+".torch.version"]; ok {
				found = append(found, p)
			}
		}
	}
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// tagsAt lists the tags of repo that point to digest (HEAD each tag; at most 2000 tags).
func tagsAt(ctx context.Context, repo name.Repository, digest string, opts []remote.Option) ([]string, error) {
	var all []string
	err := retryLoop(ctx, 4, func() error {
		var err error
		all, err = remote.List(repo, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(all) > 2000 {
		all = all[:2000]
	}
	var mu sync.Mutex
	var out []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range all {
		g.Go(func() error {
			d, err := head(gctx, repo.Tag(t), opts)
			if err == nil && d == digest {
				mu.Lock()
				out = append(out, t)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	sort.Strings(out)
	return out, nil
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
