package main

import (
	"os"

	"github.com/torchimg/torchimg/internal/testenv"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestReadWheels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	w, err := testenv.ReadWheelsFile(write("full.yaml", `torch:
  - {version: 2.9.1+cu128, cuda: 12.10, cudnn: 9.10.2.21, nccl: 2.27.5, archs: "8.0;9.0;12.0+PTX"}
  - {version: 2.9.1+cpu}
packages:
  - {name: tiny-fixture-pkg, version: 1.0.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Torch) != 2 || w.Torch[0].CUDA != "12.10" || w.Torch[0].Archs != "8.0;9.0;12.0+PTX" || len(w.Packages) != 1 || w.Packages[0].Name != "tiny-fixture-pkg" {
		t.Errorf("full: %+v", w)
	}
	w, err = testenv.ReadWheelsFile(write("list.yaml", "- {version: 2.9.1+cu126, cuda: \"12.6\"}\n"))
	if err != nil || len(w.Torch) != 1 || w.Torch[0].Version != "2.9.1+cu126" {
		t.Errorf("list: %+v %v", w, err)
	}
	if _, err := testenv.ReadWheelsFile(write("bad.yaml", "torch:\n  - {version: 2.9.1, cuda_version: 12.8}\n")); err == nil {
		t.Error("unknown field: no error")
	}
	if w, err := testenv.ReadWheelsFile(write("empty.yaml", "")); err != nil || len(w.Torch) != 0 {
		t.Errorf("empty: %+v %v", w, err)
	}
}

func TestExitCode(t *testing.T) {
	if got := exitCode(exec.Command("sh", "-c", "exit 7").Run()); got != 7 {
		t.Errorf("exit 7 -> %d", got)
	}
	if got := exitCode(exec.Command("sh", "-c", "kill -TERM $$").Run()); got != 128+15 {
		t.Errorf("SIGTERM -> %d", got)
	}
	if got := exitCode(nil); got != 0 {
		t.Errorf("nil -> %d", got)
	}
}
