package matrix

import "github.com/torchimg/torchimg/matrix/compat"

// Plan is the validated, expanded matrix: every variant with its tags, labels,
// environment and build arguments. It is what `torchimg plan -o json` prints and
// what the build, publish and report stages consume.
type Plan struct {
	Repository     string `json:"repository"`
	LabelsPrefix   string `json:"labels_prefix"`
	MatrixRevision string `json:"matrix_revision"`
	// Expansions say what each `official` of the cuda axis stood for, per torch release.
	Expansions []Expansion `json:"expansions,omitempty"`
	Variants   []*Variant  `json:"variants"`
}

// Variant is one image of the matrix.
type Variant struct {
	ID     string `json:"id"`
	Torch  string `json:"torch"`
	CUDA   string `json:"cuda"`
	OS     string `json:"os"`
	Python string `json:"python"`
	Flavor string `json:"flavor"`
	Base   string `json:"base"`
	// Tags is every tag the variant will carry: its immutable tags, then the floating tags it won.
	Tags          []string          `json:"tags"`
	ImmutableTags []string          `json:"immutable_tags"`
	FloatingTags  []string          `json:"floating_tags"`
	Labels        map[string]string `json:"labels"`
	Env           map[string]string `json:"env"`
	BuildArgs     map[string]string `json:"build_args"`

	TorchVariant string `json:"torch_variant"`
	PyPIDefault  bool   `json:"pypi_default"`
	CUDAToolkit  string `json:"cuda_toolkit"`
	// BaseCUDA is true when the base image brings CUDA (an nvidia/cuda image): CUDAToolkit is its
	// toolkit. Otherwise the torch wheels bring the CUDA runtime and CUDAToolkit is theirs.
	BaseCUDA  bool   `json:"base_cuda"`
	CUDNN     string `json:"cudnn,omitempty"`
	NCCL      string `json:"nccl,omitempty"`
	CUDAArchs string `json:"cuda_archs,omitempty"`
	// RunsOn are the compute capabilities the image's torch runs on (gpu/arch applied to
	// CUDAArchs over every GPU architecture of the compatibility data).
	RunsOn          *RunsOn  `json:"runs_on,omitempty"`
	DriverMin       string   `json:"driver_min,omitempty"`
	DriverMinCompat string   `json:"driver_min_compat,omitempty"`
	IndexURL        string   `json:"index_url"`
	PipIndexURL     string   `json:"pip_index_url,omitempty"`
	ExtraPackages   []string `json:"extra_packages,omitempty"`
	// Compiler: the image has gcc, g++ and Python's headers (the matrix's compiler, default true).
	Compiler bool `json:"compiler"`
	// Pins are the exact wheels of a locked variant (the lock file's entry): pip installs them
	// with --require-hashes --no-deps. nil: pip resolves at build time.
	Pins        *Pins  `json:"pins,omitempty"`
	TemplateDir string `json:"template_dir,omitempty"`
	// Inputs is the input fingerprint (package fingerprint), once the base image is resolved.
	Inputs     string `json:"inputs,omitempty"`
	Unofficial bool   `json:"unofficial,omitempty"`
	// Origin says where in the matrix the variant came from ("matrix.yaml:5:3 (axes)").
	Origin string `json:"origin"`
	// Alternatives are the other CUDA variants of the same torch release (compatibility data),
	// for the in-image self-check's advice.
	Alternatives []Alternative `json:"alternatives,omitempty"`

	src variantSource
}

// CPU reports whether the variant is torch's CPU wheels (cuda: cpu): no CUDA, no GPU, no
// NVIDIA_* environment.
func (v *Variant) CPU() bool { return v.TorchVariant == compat.CPU }

// RunsOn splits GPU compute capabilities by how the image runs there.
type RunsOn struct {
	Native []string `json:"native"` // a cubin for it
	PTX    []string `json:"ptx"`    // only through PTX JIT (slow first start)
	None   []string `json:"none"`   // no kernel it can run
}

// Alternative is another CUDA variant of the torch release that a user with an older driver
// could pull instead.
type Alternative struct {
	CUDA      string `json:"cuda"`
	Variant   string `json:"variant"` // "cu126"
	DriverMin string `json:"driver_min,omitempty"`
}

// Ref returns repository:tag for the variant's first immutable tag.
func (p *Plan) Ref(v *Variant) string {
	if len(v.ImmutableTags) == 0 {
		return ""
	}
	return p.Repository + ":" + v.ImmutableTags[0]
}

// Variant returns the variant with the given id.
func (p *Plan) Variant(id string) (*Variant, bool) {
	for _, v := range p.Variants {
		if v.ID == id {
			return v, true
		}
	}
	return nil, false
}

// Pins are a locked variant's wheels, per install step.
type Pins struct {
	Torch  []Pin `json:"torch"`
	Extras []Pin `json:"extras,omitempty"`
}

// Pin is one wheel: installed from URL when its sha256 matches.
type Pin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	URL     string `json:"url"`
	SHA256  string `json:"sha256"`
}
