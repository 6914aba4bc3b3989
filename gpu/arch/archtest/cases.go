// Package archtest holds the architecture cases that every user of gpu/arch is tested with
// (the rule itself, check's verdicts, the smoke preflight), so that they cannot disagree.
package archtest

import "github.com/torchimg/torchimg/gpu/arch"

// Case is one image architecture list on one GPU.
type Case struct {
	List string       // TORCH_CUDA_ARCH_LIST / the cuda.archs label
	CC   string       // the GPU's compute capability
	Want arch.Support // how the image's code runs there
	Via  string       // the entry that serves it ("" = do not compare)
}

// Lists of real torch wheels (compat data).
const (
	Archs126 = "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
	Archs128 = "7.0;7.5;8.0;8.6;9.0;10.0;12.0"
	Archs130 = "7.5;8.0;8.6;9.0;10.0;12.0+PTX"
)

// Cases are the shared table.
var Cases = []Case{
	{Archs130, "7.0", arch.None, ""}, // V100 vs a cu130 image
	{Archs130, "7.5", arch.Native, "7.5"},
	{Archs130, "8.9", arch.Native, "8.6"}, // sm_86 runs on 8.9
	{Archs130, "12.1", arch.Native, "12.0+PTX"},
	{Archs130, "13.0", arch.PTX, "12.0+PTX"},
	{Archs130, "11.0", arch.None, ""},
	{Archs126, "12.0", arch.None, ""}, // RTX 50xx vs cu126
	{Archs128, "12.0", arch.Native, "12.0"},
	{Archs128, "10.3", arch.Native, "10.0"},
	{"7.0;8.6;9.0", "8.0", arch.None, ""}, // cubins never run downwards
	{"7.0;8.0;9.0", "10.0", arch.None, ""},
	{"7.0;8.0;9.0+PTX", "10.0", arch.PTX, "9.0+PTX"},
	{"7.0;8.0;9.0+PTX", "12.0", arch.PTX, "9.0+PTX"},
	{"7.0;8.0+PTX;9.0", "8.6", arch.Native, "8.0+PTX"},
	{"5.0;6.0", "7.5", arch.None, ""},
	{"9.0a", "9.0", arch.Native, "9.0a"},
	{"9.0a", "9.1", arch.None, ""}, // arch-specific
	{"8.0;9.0a+PTX", "10.0", arch.None, ""},
	{"10.0f+PTX", "12.0", arch.None, ""},    // family-specific PTX stays in its family
	{"10.0f", "10.3", arch.Native, "10.0f"}, // a family cubin runs within its family
	{"sm_80 compute_90", "9.0", arch.PTX, "compute_90"},
	{"compute_80", "9.0", arch.PTX, "compute_80"}, // PTX only, no cubin
	{"compute_80", "7.5", arch.None, ""},
	{"Ampere;Hopper", "10.0", arch.PTX, "9.0+PTX"}, // torch's family names
	{"Hopper", "9.0", arch.Native, "9.0+PTX"},
	{"8.0,8.6", "8.7", arch.Native, "8.6"},
	{"8.0;Blackwell", "12.0", arch.Unknown, ""},
	{"", "9.0", arch.Unknown, ""},
}
