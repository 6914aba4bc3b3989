// Package inspect reads what an image says about itself (report.Info: config labels and
// environment, annotations, digests, size) from a registry or an OCI image layout, without
// pulling a layer, and prints it for people. publish reads labels back with it, check judges
// what it returns, and `torchimg inspect` shows it.
package inspect

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
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

// Image reads an image from a registry reference or an OCI layout (see IsLayout). With
// listTags, it also finds every tag of the repository that points to the same digest; when
// only that fails, the info comes back with the error.
func Image(ctx context.Context, c *registry.Client, ref string, listTags bool) (*report.Info, error) {
	if dir, ok := IsLayout(ref); ok {
		return fromLayout(dir)
	}
	r, err := c.Ref(ref)
	if err != nil {
		return nil, err
	}
	info, err := Remote(ctx, c, r)
	if err != nil {
		return nil, err
	}
	if listTags {
		byDigest, err := c.ListResolved(ctx, r.Context())
		if err != nil {
			return info, err
		}
		info.Tags = byDigest[info.Digest]
	}
	return info, nil
}

// Remote reads an image from the registry.
func Remote(ctx context.Context, c *registry.Client, ref name.Reference) (*report.Info, error) {
	var info *report.Info
	err := c.Read(ctx, ref, func(desc *remote.Descriptor) error {
		info = &report.Info{Ref: ref.String(), Digest: desc.Digest.String()}
		var img v1.Image
		var err error
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				return err
			}
			im, err := idx.IndexManifest()
			if err != nil {
				return err
			}
			chosen, err := pick(im, info)
			if err != nil {
				return err
			}
			if img, err = idx.Image(chosen.Digest); err != nil {
				return err
			}
		} else if img, err = desc.Image(); err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		cf, err := registry.ConfigFile(img)
		if err != nil {
			return err
		}
		fill(info, d, m, cf)
		return nil
	})
	if registry.IsNotFound(err) {
		return nil, fmt.Errorf("%s: not found in the registry", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return info, nil
}

// Repository reads every image of a repository once (at most registry.MaxTags tags, each
// distinct digest once, 8 at a time), each with all the tags that point to it. Images that
// cannot be read are left out; the error is for a repository that cannot be listed.
func Repository(ctx context.Context, c *registry.Client, repo string) ([]*report.Info, error) {
	r, err := c.Repo(repo)
	if err != nil {
		return nil, err
	}
	byDigest, err := c.ListResolved(ctx, r)
	if err != nil {
		return nil, err
	}
	digests := make([]string, 0, len(byDigest))
	for d := range byDigest {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	out := make([]*report.Info, len(digests))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, d := range digests {
		g.Go(func() error {
			info, err := Remote(gctx, c, r.Digest(d))
			if err == nil {
				info.Tags = byDigest[d]
				out[i] = info
			}
			return nil
		})
	}
	_ = g.Wait()
	var infos []*report.Info
	for _, info := range out {
		if info != nil {
			infos = append(infos, info)
		}
	}
	return infos, ctx.Err()
}

// Labels reads the labels of many images of one repository concurrently (by digest); an
// image that cannot be read has none. Values are cached per digest.
type Labels struct {
	c    *registry.Client
	mu   sync.Mutex
	seen map[string]map[string]string
}

// NewLabels returns a label cache reading through c.
func NewLabels(c *registry.Client) *Labels {
	return &Labels{c: c, seen: map[string]map[string]string{}}
}

// Of returns the labels of the image ref (a digest reference).
func (l *Labels) Of(ctx context.Context, ref name.Digest) map[string]string {
	l.mu.Lock()
	ls, ok := l.seen[ref.DigestStr()]
	l.mu.Unlock()
	if ok {
		return ls
	}
	info, err := Remote(ctx, l.c, ref)
	if err == nil {
		ls = info.Labels
	}
	l.mu.Lock()
	l.seen[ref.DigestStr()] = ls
	l.mu.Unlock()
	return ls
}

// fromLayout reads an image from the OCI layout at dir itself, through os.Root (no symlink
// leads out of the layout): index.json and manifests at most registry.MaxManifestSize bytes, the
// config at most registry.MaxConfigSize, each blob a regular file (not a symlink) of its
// descriptor's size and digest.
func fromLayout(dir string) (*report.Info, error) {
	info, err := readLayout(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return info, nil
}

func readLayout(dir string) (*report.Info, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := readRegular(root, dir, "index.json", registry.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse index.json: %w", err)
	}
	if len(im.Manifests) == 0 {
		return nil, errors.New("the layout holds no image")
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
	desc := top
	if top.MediaType.IsIndex() {
		b, err := layoutBlob(root, dir, top, registry.MaxManifestSize)
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse index %s: %w", top.Digest, err)
		}
		if desc, err = pick(idx, info); err != nil {
			return nil, err
		}
	} else if !top.MediaType.IsImage() {
		return nil, fmt.Errorf("%s: unexpected media type %q", top.Digest, top.MediaType)
	}
	b, err = layoutBlob(root, dir, desc, registry.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
	}
	if b, err = layoutBlob(root, dir, m.Config, registry.MaxConfigSize); err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse image config %s: %w", m.Config.Digest, err)
	}
	fill(info, desc.Digest, m, cf)
	return info, nil
}

// layoutBlob reads the blob of descriptor d from the layout in root (at dir): a regular file of at
// most limit bytes, and of d's size and digest. Its errors start with the blob's path.
func layoutBlob(root *os.Root, dir string, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Digest == (v1.Hash{}) {
		return nil, errors.New("the descriptor has no digest")
	}
	rel := filepath.Join("blobs", d.Digest.Algorithm, d.Digest.Hex)
	p := filepath.Join(dir, rel)
	if d.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit (%d MiB)", p, d.Size, limit, limit>>20)
	}
	b, err := readRegular(root, dir, rel, limit)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("%s is %d bytes, its descriptor says %d", p, len(b), d.Size)
	}
	h, err := v1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	h.Write(b)
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return nil, fmt.Errorf("%s has digest %s:%s, not %s", p, d.Digest.Algorithm, got, d.Digest)
	}
	return b, nil
}

// readRegular reads the file rel of root (at dir), refusing a symlink, anything else that is not
// a regular file, and a file over limit bytes. Its errors start with the file's path.
func readRegular(root *os.Root, dir, rel string, limit int64) ([]byte, error) {
	p := filepath.Join(dir, rel)
	st, err := root.Lstat(rel)
	if err != nil {
		return nil, fullPath(err, p)
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a symlink", p)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s)", p, st.Mode().Type())
	case st.Size() > limit:
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit (%d MiB)", p, st.Size(), limit, limit>>20)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, fullPath(err, p)
	}
	defer f.Close()
	if fst, err := f.Stat(); err != nil {
		return nil, fullPath(err, p)
	} else if !os.SameFile(st, fst) {
		return nil, fmt.Errorf("%s changed while it was opened", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fullPath(err, p)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s grew over the %d-byte limit while it was read", p, limit)
	}
	return b, nil
}

// fullPath names p in a *fs.PathError, which os.Root gives with the path inside the root.
func fullPath(err error, p string) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: pe.Op, Path: p, Err: pe.Err}
	}
	return fmt.Errorf("%s: %w", p, err)
}

// pick selects the linux/amd64 image of an index (attestations skipped).
func pick(im *v1.IndexManifest, info *report.Info) (v1.Descriptor, error) {
	info.IndexAnnotations = im.Annotations
	var chosen *v1.Descriptor
	for _, m := range registry.Images(im) {
		if chosen == nil || (m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == "amd64") {
			chosen = &m
		}
	}
	if chosen == nil {
		return v1.Descriptor{}, errors.New("the index holds no image")
	}
	if chosen.Platform != nil {
		info.Platform = chosen.Platform.String()
	}
	return *chosen, nil
}

// fill sets what the image with manifest m (of digest d) and config cf says about itself.
func fill(info *report.Info, d v1.Hash, m *v1.Manifest, cf *v1.ConfigFile) {
	info.ImageDigest = d.String()
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
}

// detectPrefix finds the torchimg label namespace: the P with P.schema-version and P.torch.version.
func detectPrefix(labels map[string]string) string {
	var found []string
	for k := range labels {
		if p, ok := strings.CutSuffix(k, "."+matrix.LabelSchema); ok {
			if _, ok := labels[p+"."+matrix.LabelTorchVersion]; ok {
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
