// Package cudaimage writes stand-ins for nvidia/cuda base images to OCI layouts: no layers,
// only the image config environment the real nvidia/cuda:<toolkit>-base-<os> image has
// (CUDA_VERSION, NVIDIA_REQUIRE_CUDA, NV_CUDA_COMPAT_PACKAGE, from the compatibility data), so
// that `torchimg check` can be shown and tested on the facts of a real base without the network.
package cudaimage

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Env is the CUDA part of the environment of nvidia/cuda:<toolkit>-base-<os>.
func Env(db *compat.DB, toolkit string) ([]string, error) {
	rq := db.RequireCUDA(toolkit)
	if !rq.Known() {
		return nil, fmt.Errorf("NVIDIA_REQUIRE_CUDA of CUDA %s is not in the compatibility data", toolkit)
	}
	return []string{
		"PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"NVARCH=x86_64",
		"NVIDIA_REQUIRE_CUDA=" + rq.Value,
		"NV_CUDA_COMPAT_PACKAGE=cuda-compat-" + strings.ReplaceAll(version.MajorMinor(toolkit), ".", "-"),
		"CUDA_VERSION=" + toolkit,
		"LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
		"NVIDIA_VISIBLE_DEVICES=all",
		"NVIDIA_DRIVER_CAPABILITIES=compute,utility",
	}, nil
}

// WriteLayout writes the stand-in of nvidia/cuda:<toolkit>-base-<os> to an OCI layout at dir.
func WriteLayout(dir string, db *compat.DB, toolkit, os string) error {
	env, err := Env(db, toolkit)
	if err != nil {
		return err
	}
	cfg := v1.Config{Env: env, Cmd: []string{"bash"}, Labels: map[string]string{
		"maintainer":                      "NVIDIA CORPORATION <cudatools@nvidia.com>",
		"org.opencontainers.image.title":  "stand-in for nvidia/cuda:" + toolkit + "-base-" + os + " (its environment only, no layers)",
		"org.opencontainers.image.source": "torchimg internal/testenv/cudaimage",
	}}
	img, err := mutate.Config(empty.Image, cfg)
	if err != nil {
		return fmt.Errorf("stand-in image config: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{})
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return nil
}
