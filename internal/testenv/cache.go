package testenv

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// What the cached prerequisites are made of. Change a version suffix when its inputs change, so a
// stale cache entry is never reused. hack/prereqs.sh uses the same names.
const (
	defaultBuildkitVersion = "v0.34.2" // used only when the build info has no buildkit module
	rootfsSuite            = "bookworm"
	rootfsName             = "rootfs-bookworm-python3-v1.tar"
	baseImageLayoutName    = "image-rootfs-bookworm-python3-v1-oci1" // OCI layout dir of the base image
	rootfsPackages         = "python3-minimal,python3-pip,python3-venv,ca-certificates"

	// The real-torch base: the base packages and Debian's python3-torch (1.13.1, a CPU build), made
	// by `hack/prereqs.sh torch` without Recommends and documentation.
	torchRootfsName      = "rootfs-bookworm-python3-torch-v1.tar"
	torchImageLayoutName = "image-rootfs-bookworm-python3-torch-v1-oci1-zstd" // zstd: buildkitd unpacks it twice as fast as gzip
	torchRootfsPackages  = rootfsPackages + ",python3-torch"
)

// rootfsCreatedBy and torchRootfsCreatedBy are the history entries of the image layers
// (hack/prereqs.sh makes the rootfs tarballs).
const (
	rootfsCreatedBy      = "mmdebstrap --variant=essential --include=" + rootfsPackages + " " + rootfsSuite
	torchRootfsCreatedBy = "mmdebstrap --variant=essential --aptopt='Apt::Install-Recommends \"false\"' --dpkgopt='path-exclude=/usr/share/{doc,man,locale}/*' --include=" + torchRootfsPackages + " " + rootfsSuite
)

// DefaultCacheDir is $TORCHIMG_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/torchimg.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("TORCHIMG_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "torchimg"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: set TORCHIMG_CACHE: %w", err)
	}
	return filepath.Join(home, ".cache", "torchimg"), nil
}

// BuildkitVersion is the version of github.com/moby/buildkit this binary was built with (go.mod),
// so the daemon under test always matches the client.
func BuildkitVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/moby/buildkit" {
				if d.Replace != nil && d.Replace.Version != "" {
					return d.Replace.Version
				}
				if d.Version != "" && d.Version != "(devel)" {
					return d.Version
				}
			}
		}
	}
	return defaultBuildkitVersion
}

// lockFile takes an exclusive flock on path (created if needed) so that concurrent test binaries
// build a prerequisite once; the others wait and then find it cached.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// ensurePrereqs returns the cached buildkitd binary and base rootfs tarball. When either is
// missing it runs hack/prereqs.sh (the same script make and CI run), so there is one recipe for
// both; a file lock makes concurrent test binaries run it once.
func ensurePrereqs(ctx context.Context, cacheDir string, logf func(string, ...any)) (buildkitd, rootfs string, err error) {
	buildkitd = filepath.Join(cacheDir, "bin", "buildkitd-"+BuildkitVersion())
	rootfs = filepath.Join(cacheDir, rootfsName)
	if err := runPrereqs(ctx, cacheDir, logf, []string{buildkitd, rootfs}, "tools", "buildkitd", "base"); err != nil {
		return "", "", err
	}
	return buildkitd, rootfs, nil
}

// ensureTorchRootfs returns the cached real-torch rootfs tarball, made by `hack/prereqs.sh torch`
// when missing (about 250 MB from Debian's mirror and 3 minutes, once).
func ensureTorchRootfs(ctx context.Context, cacheDir string, logf func(string, ...any)) (string, error) {
	rootfs := filepath.Join(cacheDir, torchRootfsName)
	if err := runPrereqs(ctx, cacheDir, logf, []string{rootfs}, "tools", "torch"); err != nil {
		return "", err
	}
	return rootfs, nil
}

// runPrereqs runs hack/prereqs.sh STEPS... unless every file in want exists, under a lock shared
// by concurrent test binaries, and checks that the script made them.
func runPrereqs(ctx context.Context, cacheDir string, logf func(string, ...any), want []string, steps ...string) error {
	have := func() bool {
		for _, f := range want {
			if !exists(f) {
				return false
			}
		}
		return true
	}
	if have() {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "prereqs.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if have() {
		return nil
	}
	root, err := repoRoot()
	if err != nil {
		return fmt.Errorf("%s missing in %s and hack/prereqs.sh cannot be found: %w", strings.Join(want, ", "), cacheDir, err)
	}
	start := time.Now()
	logf("testenv: preparing %s with hack/prereqs.sh %s (a few minutes, once)", cacheDir, strings.Join(steps, " "))
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "hack", "prereqs.sh")}, steps...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TORCHIMG_CACHE="+cacheDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("hack/prereqs.sh %s: %v\n%s", strings.Join(steps, " "), err, tail(string(out), 30))
	}
	for _, f := range want {
		if !exists(f) {
			return fmt.Errorf("hack/prereqs.sh %s did not make %s (are internal/testenv/cache.go and the script in step?)", strings.Join(steps, " "), f)
		}
	}
	logf("testenv: prerequisites ready in %s:\n%s", time.Since(start).Round(time.Second), strings.TrimSpace(string(out)))
	return nil
}

// repoRoot is the module root: next to this source file (go test, go run), else the nearest
// directory above the working directory that has a go.mod.
func repoRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "..")
		if exists(filepath.Join(d, "go.mod")) {
			return filepath.Clean(d), nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// ensureBaseImage returns the base image (one layer made from the rootfs tarball), cached as an OCI
// layout dir so later runs only push blobs.
func ensureBaseImage(ctx context.Context, cacheDir, rootfs string, logf func(string, ...any)) (v1.Image, error) {
	return ensureRootfsImage(ctx, filepath.Join(cacheDir, baseImageLayoutName), rootfs, rootfsCreatedBy, compression.GZip, logf)
}

// ensureRootfsImage returns the image of one layer made from a rootfs tarball (history entry
// createdBy, compressed with comp), cached as the OCI layout dir dir.
func ensureRootfsImage(ctx context.Context, dir, rootfs, createdBy string, comp compression.Compression, logf func(string, ...any)) (v1.Image, error) {
	if img, err := imageFromLayout(dir); err == nil {
		return img, nil
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if img, err := imageFromLayout(dir); err == nil {
		return img, nil
	}
	start := time.Now()
	opts := []tarball.LayerOption{tarball.WithCompressionLevel(gzip.BestSpeed)}
	if comp == compression.ZStd {
		opts = []tarball.LayerOption{tarball.WithCompression(compression.ZStd)}
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return filteredTar(rootfs) }, opts...)
	if err != nil {
		return nil, fmt.Errorf("base image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		CreatedBy: createdBy,
		Created:   v1.Time{Time: time.Unix(0, 0).UTC()},
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	os.RemoveAll(tmp)
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := p.AppendImage(img); err != nil {
		return nil, fmt.Errorf("write base image layout: %w", err)
	}
	os.RemoveAll(dir) // an unreadable leftover
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	logf("testenv: made image layout %s in %s", dir, time.Since(start).Round(time.Second))
	return imageFromLayout(dir)
}

func imageFromLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("%s: want 1 image, have %d", dir, len(im.Manifests))
	}
	return idx.Image(im.Manifests[0].Digest)
}

// filteredTar streams the rootfs tarball without device nodes (mmdebstrap writes /dev/null etc.;
// runtimes create /dev themselves, and a layer with device nodes cannot be unpacked unprivileged).
func filteredTar(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		tr := tar.NewReader(f)
		tw := tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock || h.Typeflag == tar.TypeFifo {
				continue
			}
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
