package matrix

import (
	"fmt"
	"strings"

	"github.com/torchimg/torchimg/matrix/compat"
)

// Label names under the prefix (default io.torchimg). This is the schema consumers read;
// README.md documents it. Bump SchemaVersion when a name or meaning changes.
const (
	SchemaVersion = "2"

	LabelSchema          = "schema-version"
	LabelVariant         = "variant"
	LabelTorchVersion    = "torch.version"
	LabelTorchCUDA       = "torch.cuda"
	LabelTorchVariant    = "torch.cuda-variant"
	LabelCUDAVersion     = "cuda.version"
	LabelCUDNNVersion    = "cudnn.version"
	LabelNCCLVersion     = "nccl.version"
	LabelPythonVersion   = "python.version"
	LabelOS              = "os"
	LabelFlavor          = "flavor"
	LabelDriverMin       = "driver.minimum"
	LabelDriverMinCompat = "driver.minimum-compat"
	LabelCUDAArchs       = "cuda.archs"
	// The variant's input fingerprint and its parts (package fingerprint); set by the build, not
	// in the Dockerfile. Version 1 of the schema had matrix.revision here, which changed every
	// image on any edit of the matrix file.
	LabelInputs        = "inputs"
	LabelInputsContext = "inputs.context"
	LabelInputsProbe   = "inputs.probe"
	LabelInputsRecipe  = "inputs.recipe"
)

// OCI standard label names.
const (
	OCITitle       = "org.opencontainers.image.title"
	OCIDescription = "org.opencontainers.image.description"
	OCIVersion     = "org.opencontainers.image.version"
	OCIRevision    = "org.opencontainers.image.revision"
	OCISource      = "org.opencontainers.image.source"
	OCICreated     = "org.opencontainers.image.created"
	OCILicenses    = "org.opencontainers.image.licenses"
	OCIBaseName    = "org.opencontainers.image.base.name"
	OCIBaseDigest  = "org.opencontainers.image.base.digest"
)

// CPUImage reports whether an image's labels (under prefix, e.g. io.torchimg) describe a CPU
// image: torch.cuda-variant is compat.CPU, or a torchimg image (schema-version set) states no
// torch.cuda. Such an image needs no driver and no GPU.
func CPUImage(labels map[string]string, prefix string) bool {
	if prefix == "" {
		return false
	}
	pre := prefix + "."
	if labels[pre+LabelTorchVariant] == compat.CPU {
		return true
	}
	return labels[pre+LabelSchema] != "" && labels[pre+LabelTorchCUDA] == ""
}

func variantLabels(p *Plan, f *File, v *Variant, user []KV) map[string]string {
	pre := p.LabelsPrefix + "."
	l := map[string]string{
		pre + LabelSchema:        SchemaVersion,
		pre + LabelVariant:       v.ID,
		pre + LabelTorchVersion:  v.Torch,
		pre + LabelTorchVariant:  v.TorchVariant,
		pre + LabelPythonVersion: v.Python,
		pre + LabelOS:            v.OS,
		pre + LabelFlavor:        v.Flavor,
	}
	set := func(k, val string) {
		if val != "" {
			l[k] = val
		}
	}
	if !v.CPU() {
		// torch.version.cuda; a CPU variant's torch has none (and no other CUDA label).
		l[pre+LabelTorchCUDA] = v.CUDA
	}
	if v.BaseCUDA {
		set(pre+LabelCUDAVersion, v.CUDAToolkit)
	}
	set(pre+LabelCUDNNVersion, v.CUDNN)
	set(pre+LabelNCCLVersion, v.NCCL)
	set(pre+LabelDriverMin, v.DriverMin)
	set(pre+LabelDriverMinCompat, v.DriverMinCompat)
	set(pre+LabelCUDAArchs, v.CUDAArchs)

	title := f.Title.Value
	if title == "" {
		parts := strings.Split(p.Repository, "/")
		title = parts[len(parts)-1]
	}
	l[OCITitle] = title
	desc := f.Description.Value
	if desc == "" {
		desc = fmt.Sprintf("PyTorch %s (%s) with CUDA %s", v.Torch, v.TorchVariant, v.CUDAToolkit)
		switch {
		case v.CPU():
			desc = fmt.Sprintf("PyTorch %s (%s: no CUDA, uses no GPU)", v.Torch, v.TorchVariant)
		case !v.BaseCUDA:
			desc = fmt.Sprintf("PyTorch %s (%s, its wheels' CUDA runtime)", v.Torch, v.TorchVariant)
		}
		if v.CUDNN != "" {
			desc += ", cuDNN " + v.CUDNN
		}
		desc += fmt.Sprintf(", Python %s on %s (%s)", v.Python, v.OS, v.Flavor)
	}
	l[OCIDescription] = desc
	l[OCIVersion] = v.Torch
	l[OCIBaseName] = v.Base
	set(OCISource, f.Source.Value)
	set(OCILicenses, f.Licenses.Value)
	for _, kv := range user {
		l[kv.Key.Value] = kv.Value.Value
	}
	return l
}
