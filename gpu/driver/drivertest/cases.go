// Package drivertest holds the driver cases that every user of gpu/driver is tested with (the
// rule itself, check's verdicts, the smoke preflight), so that they cannot disagree. The images
// carry the real environment of their nvidia/cuda base (from the compatibility data): its
// NVIDIA_REQUIRE_CUDA, CUDA_VERSION and forward-compatibility package.
package drivertest

import (
	"strings"

	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Case is one image toolkit on one host.
type Case struct {
	Name    string
	Toolkit string // the image's CUDA toolkit ("12.8.1"): its labels and NVIDIA_REQUIRE_CUDA
	Driver  string // the host's driver
	CUDA    string // the CUDA version the driver reports
	Brand   string // the GPU's brand as NVML names it
	Mode    driver.Mode
	// Plain is an image on a base without CUDA (torch's pip wheels on plain Ubuntu): no
	// NVIDIA_REQUIRE_CUDA brand clauses, no forward-compatibility libraries.
	Plain bool
	Want  driver.Status
}

// Env is the environment of the case's image.
func (c Case) Env(db *compat.DB) map[string]string {
	if c.Plain {
		return map[string]string{"NVIDIA_REQUIRE_CUDA": "cuda>=" + version.MajorMinor(c.Toolkit), "CUDA_VERSION": c.Toolkit}
	}
	return BaseEnv(db, c.Toolkit)
}

// BaseEnv is the CUDA part of the environment of nvidia/cuda:<toolkit>-base-*.
func BaseEnv(db *compat.DB, toolkit string) map[string]string {
	return map[string]string{
		"NVIDIA_REQUIRE_CUDA":   db.RequireCUDA(toolkit).Value,
		"CUDA_VERSION":          toolkit,
		driver.EnvCompatPackage: "cuda-compat-" + strings.ReplaceAll(version.MajorMinor(toolkit), ".", "-"),
	}
}

// Cases are the shared table.
var Cases = []Case{
	{Name: "new driver", Toolkit: "12.8.1", Driver: "580.95.05", CUDA: "13.0", Brand: "nvidia", Want: driver.OK},
	{Name: "exact minimum", Toolkit: "12.8.1", Driver: "570.124.06", CUDA: "12.8", Brand: "geforce", Want: driver.OK},
	{Name: "12.8.0's minimum runs 12.8.1 on an RTX 5090 (same branch: no compat libraries)", Toolkit: "12.8.1", Driver: "570.86.10", CUDA: "12.8", Brand: "geforcertx", Want: driver.OK},
	{Name: "too old (GeForce: no forward compatibility)", Toolkit: "12.8.1", Driver: "550.54.15", CUDA: "12.4", Brand: "geforce", Want: driver.Fail},
	{Name: "forward compatibility on branch 550", Toolkit: "12.8.1", Driver: "550.54.15", CUDA: "12.4", Brand: "nvidia", Want: driver.OK},
	{Name: "too old for 13.0", Toolkit: "13.0.2", Driver: "560.35.05", CUDA: "12.6", Brand: "geforce", Want: driver.Fail},
	{Name: "forward compatibility on a datacenter GPU", Toolkit: "12.8.1", Driver: "535.247.01", CUDA: "12.2", Brand: "tesla", Want: driver.OK},
	{Name: "minor-version compatibility is still refused, and the compat libraries do not support branch 525", Toolkit: "12.8.1", Driver: "525.147.05", CUDA: "12.0", Brand: "nvidia", Want: driver.Fail},
	{Name: "old LTS image on an old driver", Toolkit: "11.8.0", Driver: "520.61.05", CUDA: "11.8", Brand: "tesla", Want: driver.OK},
	{Name: "12.6 on 560", Toolkit: "12.6.3", Driver: "560.35.05", CUDA: "12.6", Brand: "geforce", Want: driver.OK},
	{Name: "11.8 on 515: refused (legacy); compat libraries of 520 on branch 515 (CDI)", Toolkit: "11.8.0", Driver: "515.65.01", CUDA: "11.7", Brand: "tesla", Want: driver.Fail},
	{Name: "11.8 on 510", Toolkit: "11.8.0", Driver: "510.47.03", CUDA: "11.6", Brand: "tesla", Want: driver.Fail},
	{Name: "GeForce on 525 with a 12.1 image: the brand clause passes, then error 804", Toolkit: "12.1.1", Driver: "525.147.05", CUDA: "12.0", Brand: "geforce", Want: driver.Fail},
	{Name: "GeForce on 470 with an 11.8 image: error 804", Toolkit: "11.8.0", Driver: "470.256.02", CUDA: "11.4", Brand: "geforce", Want: driver.Fail},
	{Name: "GeForce on 470 with an 11.8 image, CDI", Toolkit: "11.8.0", Driver: "470.256.02", CUDA: "11.4", Brand: "geforce", Mode: driver.CDI, Want: driver.Fail},
	{Name: "Tesla on 470 with an 11.8 image: forward compatibility", Toolkit: "11.8.0", Driver: "470.256.02", CUDA: "11.4", Brand: "tesla", Want: driver.OK},
	{Name: "pip wheels on a plain base, minor-version compatible driver: legacy refuses", Toolkit: "12.8.1", Driver: "550.54.15", CUDA: "12.4", Brand: "geforce", Mode: driver.Legacy, Plain: true, Want: driver.Fail},
	{Name: "pip wheels on a plain base, minor-version compatible driver: CDI runs with limits", Toolkit: "12.8.1", Driver: "550.54.15", CUDA: "12.4", Brand: "geforce", Mode: driver.CDI, Plain: true, Want: driver.Warn},
	{Name: "pip wheels on a plain base, minor-version compatible driver: depends on the mode", Toolkit: "12.8.1", Driver: "550.54.15", CUDA: "12.4", Brand: "geforce", Plain: true, Want: driver.Unknown},
	{Name: "pip wheels on a plain base, another CUDA major: fails in both modes", Toolkit: "13.0.2", Driver: "550.54.15", CUDA: "12.4", Brand: "tesla", Plain: true, Want: driver.Fail},
	{Name: "CUDA 12.10 reported: a minor of two digits", Toolkit: "12.9.1", Driver: "575.57.08", CUDA: "12.10", Brand: "geforce", Want: driver.OK},
}
