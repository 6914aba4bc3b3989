package matrix

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix/compat"
)

// syntheticData makes compatibility data with n torch releases, each with 5 CUDA
// variants on CUDA minors 20.0..20.4, so a matrix can expand to n*5*2*5*2 variants.
func syntheticData(n int) []byte {
	var b strings.Builder
	b.WriteString("brands:\n  old: [tesla]\n  new: [tesla]\nbrands_source: s\nos:\n")
	b.WriteString("  - {name: ubuntu22.04, family: ubuntu, python: \"3.10\", source: s}\n  - {name: ubuntu24.04, family: ubuntu, python: \"3.12\", source: s}\ncuda:\n")
	for c := 0; c < 5; c++ {
		fmt.Fprintf(&b, "  - version: \"20.%d\"\n    image: \"20.%d.1\"\n    source: s\n    compat_floor: {value: \"700\", source: s}\n    archs: {value: \"8.0;9.0\", source: s}\n    updates:\n      - {version: \"20.%d.1\", min_driver: {value: \"70%d.1.2\", source: s}}\n", c, c, c, c)
	}
	b.WriteString("images:\n")
	for c := 0; c < 5; c++ {
		fmt.Fprintf(&b, "  - toolkit: \"20.%d.1\"\n    cudnn: cudnn\n    complete: true\n    source: s\n    tags:\n      - {os: ubuntu22.04, status: exists, flavors: [base, devel], source: s}\n      - {os: ubuntu24.04, status: exists, flavors: [base, devel], source: s}\n", c)
	}
	b.WriteString("torch:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - series: \"3.%d\"\n    releases: [\"3.%d.0\"]\n    default: cu200\n    python: [\"3.10\", \"3.11\", \"3.12\", \"3.13\", \"3.14\"]\n    source: s\n    variants:\n", i, i)
		for c := 0; c < 5; c++ {
			fmt.Fprintf(&b, "      - {name: cu20%d, cuda: \"20.%d\", source: s, cudnn: {value: \"9.1.0.70\", source: s}, nccl: {value: \"2.1.1\", source: s}, archs: {value: \"8.0;9.0\", source: s}, toolkit: {value: \"20.%d.1\", source: s}}\n", c, c, c)
		}
	}
	return []byte(b.String())
}

func syntheticMatrix(n int) []byte {
	var torches []string
	for i := 0; i < n; i++ {
		torches = append(torches, fmt.Sprintf("%q", fmt.Sprintf("3.%d.0", i)))
	}
	return []byte(fmt.Sprintf(`repository: ghcr.io/example/bench
axes:
  torch: [%s]
  cuda: ["20.0", "20.1", "20.2", "20.3", "20.4"]
  os: [ubuntu22.04, ubuntu24.04]
  python: ["3.10", "3.11", "3.12", "3.13", "3.14"]
  flavor: [runtime, devel]
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}", kind: immutable}
  - {template: "{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}", kind: floating, prefer: [{flavor: runtime}, {os: ubuntu24.04}, {highest: python}]}
  - {template: "{{.Torch.MajorMinor}}", kind: floating, only: {pypi_default: true}, prefer: [{flavor: runtime}, {os: ubuntu24.04}, {highest: python}]}
  - {template: latest, kind: floating, only: {pypi_default: true}, prefer: [{highest: torch}, {flavor: runtime}, {os: ubuntu24.04}, {highest: python}]}
`, strings.Join(torches, ", ")))
}

// BenchmarkPlan10k expands, validates and plans a 10,000-variant matrix.
// Targets: under 1 s and under 200 MB per plan (reported as ms/plan and MB/plan).
func BenchmarkPlan10k(b *testing.B) {
	d, err := compat.Load(syntheticData(100), "synthetic.yaml")
	if err != nil {
		b.Fatal(err)
	}
	src := syntheticMatrix(100)
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for i := 0; i < b.N; i++ {
		f, err := Parse(src, "bench.yaml")
		if err != nil {
			b.Fatal(err)
		}
		p, _, err := NewPlan(f, d, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Variants) != 10000 {
			b.Fatalf("%d variants", len(p.Variants))
		}
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.TotalAlloc-before)/float64(b.N)/1e6, "MB-alloc/plan")
}

// BenchmarkLoadFileTooLarge refuses a 10 MB matrix file. Target: microseconds and a few KB per
// load (it is refused from its size, never read into the YAML parser).
func BenchmarkLoadFileTooLarge(b *testing.B) {
	path := writeMatrix(b, 10<<20, true)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := LoadFile(path); err == nil {
			b.Fatal("a 10 MB matrix loaded")
		}
	}
}
