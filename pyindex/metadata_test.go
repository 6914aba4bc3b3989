package pyindex

import (
	"reflect"
	"strings"
	"testing"
)

const torchMetadata = `Metadata-Version: 2.4
Name: torch
Version: 2.9.1+cu128
Summary: Tensors and Dynamic neural networks in Python
License: BSD-3-Clause
Requires-Python: >=3.10
Description-Content-Type: text/markdown
Requires-Dist: filelock
Requires-Dist: typing-extensions>=4.10.0
Requires-Dist: nvidia-cudnn-cu12==9.10.2.21; platform_system == "Linux" and platform_machine == "x86_64"
Requires-Dist: nvidia-cudnn-cu12==9.10.2.99; platform_system == "Linux" and platform_machine == "aarch64"
Requires-Dist: nvidia-nccl-cu12==2.27.5; platform_system == "Linux"
Requires-Dist: triton==3.5.1; platform_system == "Linux" and platform_machine == "x86_64"
Requires-Dist: optree>=0.13.0; extra == "optree"
Requires-Dist: opt-einsum (>=3.3)
Requires-Dist: sympy>=1.13.3; python_version >= "3.9" and
  python_version < "3.15"
Provides-Extra: optree

Requires-Dist: not-a-header-this-is-the-body==1
`

func TestParseMetadata(t *testing.T) {
	md, err := ParseMetadata([]byte(torchMetadata))
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "torch" || md.Version != "2.9.1+cu128" || len(md.RequiresDist) != 9 {
		t.Fatalf("%+v", md)
	}
	env := LinuxX86_64("3.12")
	var applies []string
	for _, r := range md.RequiresDist {
		ok, err := r.Applies(env)
		if err != nil {
			t.Fatalf("%s: %v", r.Raw, err)
		}
		if ok {
			applies = append(applies, r.Name+r.Specifier)
		}
	}
	want := []string{"filelock", "typing-extensions>=4.10.0", "nvidia-cudnn-cu12==9.10.2.21", "nvidia-nccl-cu12==2.27.5",
		"triton==3.5.1", "opt-einsum>=3.3", "sympy>=1.13.3"}
	if !reflect.DeepEqual(applies, want) {
		t.Errorf("applies on linux x86_64:\n got %q\nwant %q", applies, want)
	}
	if v, ok := md.RequiresDist[2].Exact(); !ok || v != "9.10.2.21" {
		t.Errorf("Exact = %q %v", v, ok)
	}
	if _, ok := md.RequiresDist[1].Exact(); ok {
		t.Error(">= is not an exact pin")
	}
	if ok, _ := md.RequiresDist[8].Applies(LinuxX86_64("3.15t")); ok {
		t.Error(`python_version < "3.15" holds for 3.15t`)
	}
}

func TestParseMetadataErrors(t *testing.T) {
	for in, want := range map[string]string{
		"<html>not metadata</html>\n":              "is not a header",
		"Metadata-Version: 2.1\nSummary: x\n":      "no Name or Version",
		"Name: torch\nVersion: 1\nRequires-Dist: ": "no project name",
	} {
		if _, err := ParseMetadata([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestEvalMarker(t *testing.T) {
	env := LinuxX86_64("3.13t")
	for marker, want := range map[string]bool{
		`platform_system == "Linux" and platform_machine == "x86_64"`:               true,
		`platform_system == 'Windows' or (sys_platform == "linux" and extra == "")`: true,
		`platform_machine != "x86_64"`:                                              false,
		`python_version >= "3.10" and python_version < "3.14"`:                      true,
		`python_version < "3.9"`:                                                    false,
		`"linux" in sys_platform`:                                                   true,
		`sys_platform not in "win32 cygwin"`:                                        true,
		`python_full_version ~= "3.13.0"`:                                           true,
		`extra == "Opt_Einsum"`:                                                     false,
	} {
		got, err := EvalMarker(marker, env)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", marker, got, err, want)
		}
	}
	for _, bad := range []string{`platform_release == "6"`, `python_version >`, `(os_name == "posix"`, `os_name = "posix" extra`, `"a" < "b"`} {
		if _, err := EvalMarker(bad, env); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
