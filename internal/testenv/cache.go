package testenv

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

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
)

// rootfsPackages are installed by mmdebstrap (--variant=essential) into the base image.
var rootfsPackages = []string{"python3-minimal", "python3-pip", "python3-venv", "ca-certificates"}

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

// ensureBuildkitd returns the cached buildkitd binary, building it from the module source if missing.
// `go install github.com/moby/buildkit/cmd/buildkitd@VERSION` does not work (buildkit's go.mod has
// exclude directives), so the module is copied out of the module cache and built with -mod=mod.
func ensureBuildkitd(ctx context.Context, cacheDir string, logf func(string, ...any)) (string, error) {
	ver := BuildkitVersion()
	out := filepath.Join(cacheDir, "bin", "buildkitd-"+ver)
	if exists(out) {
		return out, nil
	}
	unlock, err := lockFile(ctx, out+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(out) {
		return out, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("buildkitd %s is not in %s and there is no go command to build it (run hack/prereqs.sh)", ver, out)
	}
	start := time.Now()
	logf("testenv: building buildkitd %s into %s (a few minutes, once)", ver, out)
	dl := exec.CommandContext(ctx, goBin, "mod", "download", "-json", "github.com/moby/buildkit@"+ver)
	dl.Stderr = os.Stderr
	js, err := dl.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download github.com/moby/buildkit@%s: %w", ver, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(js, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download github.com/moby/buildkit@%s: no module dir (%s %v)", ver, mod.Error, err)
	}
	tmp, err := os.MkdirTemp("", "torchimg-buildkit-src-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "buildkit")
	if out, err := exec.CommandContext(ctx, "cp", "-a", mod.Dir, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy buildkit module: %v: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("chmod buildkit module: %v: %s", err, out)
	}
	partial := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	defer os.Remove(partial)
	// -trimpath: the build cache is then shared across temp dirs (and with hack/prereqs.sh).
	b := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", partial, "./cmd/buildkitd")
	b.Dir = src
	b.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOWORK=off")
	if o, err := b.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build buildkitd %s: %v\n%s", ver, err, tail(string(o), 30))
	}
	if err := os.Rename(partial, out); err != nil {
		return "", err
	}
	logf("testenv: built buildkitd %s in %s", ver, time.Since(start).Round(time.Second))
	return out, nil
}

// aptSources is the host's apt source list, passed to mmdebstrap as its mirror argument (mmdebstrap
// pastes a file given there), so no mirror host is named here.
func aptSources() (string, error) {
	for _, p := range []string{"/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"} {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			return p, nil
		}
	}
	return "", errors.New("no apt sources on this host (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list) for mmdebstrap")
}

// ensureRootfs returns the cached Debian rootfs tarball with Python, making it with mmdebstrap if missing.
func ensureRootfs(ctx context.Context, cacheDir string, logf func(string, ...any)) (string, error) {
	out := filepath.Join(cacheDir, rootfsName)
	if exists(out) {
		return out, nil
	}
	unlock, err := lockFile(ctx, out+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(out) {
		return out, nil
	}
	mm, err := exec.LookPath("mmdebstrap")
	if err != nil {
		return "", fmt.Errorf("base rootfs %s is missing and mmdebstrap is not installed: run hack/prereqs.sh (apt-get install mmdebstrap)", out)
	}
	sources, err := aptSources()
	if err != nil {
		return "", err
	}
	start := time.Now()
	logf("testenv: making base rootfs %s with mmdebstrap (about a minute, once)", out)
	partial := fmt.Sprintf("%s.tmp-%d.tar", strings.TrimSuffix(out, ".tar"), os.Getpid())
	defer os.Remove(partial)
	cmd := exec.CommandContext(ctx, mm, "--quiet", "--variant=essential", "--include="+strings.Join(rootfsPackages, ","),
		rootfsSuite, partial, sources)
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mmdebstrap %s: %v\n%s", rootfsSuite, err, tail(string(o), 30))
	}
	if err := os.Rename(partial, out); err != nil {
		return "", err
	}
	logf("testenv: made base rootfs in %s", time.Since(start).Round(time.Second))
	return out, nil
}

// ensureBaseImage returns the base image (one layer made from the rootfs tarball), cached as an OCI
// layout dir so later runs only push blobs.
func ensureBaseImage(ctx context.Context, cacheDir, rootfs string, logf func(string, ...any)) (v1.Image, error) {
	dir := filepath.Join(cacheDir, baseImageLayoutName)
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
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return filteredTar(rootfs) },
		tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("base image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer, History: v1.History{
		CreatedBy: "mmdebstrap --variant=essential --include=" + strings.Join(rootfsPackages, ",") + " " + rootfsSuite,
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
	logf("testenv: made base image layout %s in %s", dir, time.Since(start).Round(time.Second))
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
