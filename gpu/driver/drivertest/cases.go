// Package drivertest holds the driver cases that every user of gpu/driver is tested with (the
// rule itself, check's verdicts, the smoke preflight), so that they cannot disagree. The images
// carry the real NVIDIA_REQUIRE_CUDA of their nvidia/cuda base (from the compatibility data).
package drivertest

import "github.com/torchimg/torchimg/gpu/driver"

// Case is one image toolkit on one host.
type Case struct {
	Name    string
	Toolkit string // the image's CUDA toolkit ("12.8.1"): its labels and NVIDIA_REQUIRE_CUDA
	Driver  string // the host's driver
	CUDA    string // the CUDA version the driver reports
	Brand   string // the GPU's brand as NVML names it
	Want    driver.Status
}

// Cases are the shared table.
var Cases = []Case{
	{"new driver", "12.8.1", "580.95.05", "13.0", "nvidia", driver.OK},
	{"exact minimum", "12.8.1", "570.124.06", "12.8", "geforce", driver.OK},
	{"too old (GeForce: no forward compatibility)", "12.8.1", "550.54.15", "12.4", "geforce", driver.Fail},
	{"forward compatibility on branch 550", "12.8.1", "550.54.15", "12.4", "nvidia", driver.OK},
	{"too old for 13.0", "13.0.2", "560.35.05", "12.6", "geforce", driver.Fail},
	{"forward compatibility on a datacenter GPU", "12.8.1", "535.247.01", "12.2", "tesla", driver.OK},
	{"minor-version compatibility is still refused", "12.8.1", "525.147.05", "12.0", "nvidia", driver.Fail},
	{"old LTS image on an old driver", "11.8.0", "520.61.05", "11.8", "tesla", driver.OK},
	{"12.6 on 560", "12.6.3", "560.35.05", "12.6", "geforce", driver.OK},
}
