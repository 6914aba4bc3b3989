package testenv

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TorchImageRepo and TorchImageTag name the real-torch base image in the test registry: Debian 12
// with Python 3.11 and Debian's python3-torch, a real torch (CPU build, no CUDA, no cuDNN).
const (
	TorchImageRepo = "torchimg-test/debian-python-torch"
	TorchImageTag  = "bookworm"
	// RealTorchPackage is the Debian package version of that torch (dpkg-query -W python3-torch).
	RealTorchPackage = "1.13.1+dfsg-4"
	// RealTorchVersion is what that torch itself reports as torch.__version__: Debian builds it
	// from source without PYTORCH_BUILD_VERSION, so the 1.13.1 package says 1.13.0a0 (its
	// egg-info says 1.13.0a0+gitunknown). The probe reports what torch says.
	RealTorchVersion = "1.13.0a0"
	// RealTorchPython is the Python of that image (Debian 12's python3).
	RealTorchPython = "3.11"
)

type realTorch struct {
	once sync.Once
	ref  string
	err  error
}

// RealTorchImage pushes the real-torch base image into the Env's registry (once per Env, past
// Middleware) and returns its reference, "127.0.0.1:PORT/torchimg-test/debian-python-torch:bookworm".
// Its rootfs is made by `hack/prereqs.sh torch` when it is not cached (about 250 MB from Debian's
// mirror and 3 minutes, once); the image layout is cached next to it.
func (e *Env) RealTorchImage(ctx context.Context) (string, error) {
	e.torch.once.Do(func() { e.torch.ref, e.torch.err = e.pushRealTorch(ctx) })
	return e.torch.ref, e.torch.err
}

func (e *Env) pushRealTorch(ctx context.Context) (string, error) {
	start := time.Now()
	rootfs, err := ensureTorchRootfs(ctx, e.cacheDir, e.logf)
	if err != nil {
		return "", fmt.Errorf("real-torch rootfs: %w", err)
	}
	img, err := ensureRootfsImage(ctx, filepath.Join(e.cacheDir, torchImageLayoutName), rootfs, torchRootfsCreatedBy, compression.ZStd, e.logf)
	if err != nil {
		return "", fmt.Errorf("real-torch image from %s: %w", rootfs, err)
	}
	ref := e.RegistryHost + "/" + TorchImageRepo + ":" + TorchImageTag
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithTransport(handlerTransport{e.reg})); err != nil {
		return "", fmt.Errorf("push real-torch image %s: %w", ref, err)
	}
	e.logf("testenv: pushed real-torch image %s in %s", ref, time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// RealTorch is RealTorchImage for tests: it fails the test with the reason.
func (e *Env) RealTorch(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ref, err := e.RealTorchImage(ctx)
	if err != nil {
		t.Fatalf("testenv: the real-torch image (Debian's python3-torch; hack/prereqs.sh torch makes it, as root): %v", err)
	}
	return ref
}
