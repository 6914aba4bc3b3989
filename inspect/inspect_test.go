package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/torchimg/torchimg/internal/registry"
)

// testImage is a random one-layer image with labels.
func testImage(t *testing.T, labels map[string]string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, v1.Config{Labels: labels}); err != nil {
		t.Fatal(err)
	}
	return img
}

// must is for test setup that fails only when the test itself is broken.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func blobPath(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

// replaceWithSymlink moves the file p to target (anywhere) and leaves a symlink to it at p.
func replaceWithSymlink(t *testing.T, p, target string) {
	t.Helper()
	if err := os.Rename(p, target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// writeManifest stores m in the layout at dir as the only entry of index.json.
func writeManifest(t *testing.T, dir string, m *v1.Manifest) {
	t.Helper()
	b := must(json.Marshal(m))
	h, size, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobPath(dir, h), b, 0o644); err != nil {
		t.Fatal(err)
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex,
		Manifests: []v1.Descriptor{{MediaType: types.OCIManifestSchema1, Digest: h, Size: size}}}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), must(json.Marshal(idx)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFromLayout(t *testing.T) {
	labels := map[string]string{"org.opencontainers.image.revision": "abc123"}
	for _, tc := range []struct {
		name string
		// big makes the config over registry.MaxConfigSize.
		big bool
		// index stores the image inside a nested index.
		index bool
		// spoil changes the layout at dir (cfg: the config blob, man: the manifest blob).
		spoil func(t *testing.T, dir, cfg, man string, m *v1.Manifest)
		// want are the substrings of the error ("" for none), with DIR, CFG and MAN replaced.
		want []string
	}{
		{name: "image"},
		{name: "index", index: true},
		{
			name: "config is a symlink out of the layout",
			spoil: func(t *testing.T, dir, cfg, _ string, _ *v1.Manifest) {
				replaceWithSymlink(t, cfg, filepath.Join(t.TempDir(), "c"))
			},
			want: []string{"read image config: CFG is a symlink"},
		},
		{
			name: "config is a symlink inside the layout",
			spoil: func(t *testing.T, dir, cfg, _ string, _ *v1.Manifest) {
				replaceWithSymlink(t, cfg, filepath.Join(dir, "c"))
			},
			want: []string{"read image config: CFG is a symlink"},
		},
		{
			name: "manifest is a symlink",
			spoil: func(t *testing.T, _, _, man string, _ *v1.Manifest) {
				replaceWithSymlink(t, man, filepath.Join(t.TempDir(), "m"))
			},
			want: []string{"read manifest: MAN is a symlink"},
		},
		{
			name:  "nested index is a symlink",
			index: true,
			spoil: func(t *testing.T, dir, _, _ string, _ *v1.Manifest) {
				im := must(must(layout.ImageIndexFromPath(dir)).IndexManifest())
				p := blobPath(dir, im.Manifests[0].Digest)
				replaceWithSymlink(t, p, filepath.Join(t.TempDir(), "i"))
			},
			want: []string{"read index: DIR/blobs/sha256/", "is a symlink"},
		},
		{
			name: "index.json is a symlink",
			spoil: func(t *testing.T, dir, _, _ string, _ *v1.Manifest) {
				replaceWithSymlink(t, filepath.Join(dir, "index.json"), filepath.Join(t.TempDir(), "index.json"))
			},
			want: []string{"read index.json: DIR/index.json is a symlink"},
		},
		{
			name: "blobs directory links out of the layout",
			spoil: func(t *testing.T, dir, _, _ string, _ *v1.Manifest) {
				replaceWithSymlink(t, filepath.Join(dir, "blobs"), filepath.Join(t.TempDir(), "blobs"))
			},
			want: []string{"read manifest: ", " DIR/blobs/sha256/", "escapes"},
		},
		{
			name: "config is a directory",
			spoil: func(t *testing.T, _, cfg, _ string, _ *v1.Manifest) {
				if err := os.Remove(cfg); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(cfg, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"read image config: CFG is not a regular file"},
		},
		{
			name: "config changed",
			spoil: func(t *testing.T, _, cfg, _ string, _ *v1.Manifest) {
				b := must(os.ReadFile(cfg))
				b[len(b)-2] ^= 1
				if err := os.WriteFile(cfg, b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"read image config: CFG has digest sha256:"},
		},
		{
			name: "config cut short",
			spoil: func(t *testing.T, _, cfg, _ string, _ *v1.Manifest) {
				if err := os.Truncate(cfg, 10); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"read image config: CFG is 10 bytes, its descriptor says"},
		},
		{
			name: "config over the limit",
			big:  true,
			want: []string{"read image config: CFG is 9437", "bytes, over the 8388608-byte limit (8 MiB)"},
		},
		{
			name: "manifest states a config over the limit",
			spoil: func(t *testing.T, dir, cfg, _ string, m *v1.Manifest) {
				m.Config.Size = 100 << 20
				writeManifest(t, dir, m)
				if err := os.Remove(cfg); err != nil { // never read
					t.Fatal(err)
				}
			},
			want: []string{"read image config: CFG is 104857600 bytes, over the 8388608-byte limit"},
		},
		{
			name: "config grew past its descriptor",
			spoil: func(t *testing.T, dir, cfg, _ string, m *v1.Manifest) {
				f := must(os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0))
				defer f.Close()
				if _, err := f.Write(bytes.Repeat([]byte(" "), registry.MaxConfigSize)); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"read image config: CFG is 83889", "bytes, over the 8388608-byte limit"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := labels
			if tc.big {
				ls = map[string]string{"pad": strings.Repeat("x", 9<<20)}
			}
			img := testImage(t, ls)
			dir := t.TempDir()
			p := must(layout.Write(dir, empty.Index))
			ann := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "2.9-cu128"})
			if tc.index {
				idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
					Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
				if err := p.AppendIndex(idx, ann); err != nil {
					t.Fatal(err)
				}
			} else if err := p.AppendImage(img, ann); err != nil {
				t.Fatal(err)
			}
			m := must(img.Manifest())
			cfg, man := blobPath(dir, m.Config.Digest), blobPath(dir, must(img.Digest()))
			if tc.spoil != nil {
				tc.spoil(t, dir, cfg, man, m)
			}
			info, err := fromLayout(dir)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := info.ImageDigest, must(img.Digest()).String(); got != want {
					t.Errorf("image digest %s, want %s", got, want)
				}
				if info.Labels["org.opencontainers.image.revision"] != "abc123" || len(info.Tags) != 1 || info.Tags[0] != "2.9-cu128" {
					t.Errorf("labels %v, tags %v", info.Labels, info.Tags)
				}
				if tc.index && info.Platform != "linux/amd64" {
					t.Errorf("platform %q", info.Platform)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; info %+v", info)
			}
			if !strings.HasPrefix(err.Error(), "OCI layout "+dir+": ") {
				t.Errorf("error %q does not name the layout", err)
			}
			for _, w := range tc.want {
				w = strings.NewReplacer("DIR", dir, "CFG", cfg, "MAN", man).Replace(w)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}

type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// A config over registry.MaxConfigSize, or that its manifest says is, is refused before it is
// read from the registry.
func TestRemoteConfigSize(t *testing.T) {
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	var blobGets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobGets.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := must(registry.New(registry.Options{Retries: -1}))

	small := testImage(t, map[string]string{"a": "b"})
	big := testImage(t, map[string]string{"pad": strings.Repeat("x", 9<<20)})
	m := must(small.Manifest()).DeepCopy()
	m.Config.Size = 100 << 20
	for _, tc := range []struct {
		name string
		img  v1.Image
		// manifest, when set, replaces img's manifest after img is pushed.
		manifest *v1.Manifest
		want     []string
	}{
		{name: "small", img: small},
		{name: "big", img: big, want: []string{"image config " + must(big.ConfigName()).String() + " is 9437", "bytes, over the 8388608-byte limit (8 MiB)"}},
		{name: "lying manifest", img: small, manifest: m, want: []string{"image config " + m.Config.Digest.String() + " is 104857600 bytes, over the 8388608-byte limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := must(name.ParseReference(host + "/acme/img:" + strings.ReplaceAll(tc.name, " ", "-")))
			if err := remote.Write(ref, tc.img); err != nil {
				t.Fatal(err)
			}
			if tc.manifest != nil {
				if err := remote.Put(ref, rawManifest{must(json.Marshal(tc.manifest)), types.OCIManifestSchema1}); err != nil {
					t.Fatal(err)
				}
			}
			blobGets.Store(0)
			info, err := Remote(context.Background(), c, ref)
			if tc.want == nil {
				if err != nil || info.Labels["a"] != "b" {
					t.Fatalf("%v, %+v", err, info)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), ref.String()+": ") {
				t.Errorf("error %q does not name the image", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if n := blobGets.Load(); n != 0 {
				t.Errorf("%d blob GETs, want none", n)
			}
		})
	}
}
