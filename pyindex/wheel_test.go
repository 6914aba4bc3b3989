package pyindex

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseWheelName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		want    Wheel
		local   string
		pythons []string
		linux   bool
		final   bool
	}{
		{name: "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.9.1+cu128", Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"manylinux_2_28_x86_64"}},
			local: "cu128", pythons: []string{"3.12"}, linux: true, final: true},
		{name: "torch-2.9.1+cu130-cp313-cp313t-manylinux_2_28_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.9.1+cu130", Python: []string{"cp313"}, ABI: []string{"cp313t"}, Platform: []string{"manylinux_2_28_x86_64"}},
			local: "cu130", pythons: []string{"3.13t"}, linux: true, final: true},
		{name: "torch-2.14.0+cu130-cp314t-cp314t-manylinux_2_28_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.14.0+cu130", Python: []string{"cp314t"}, ABI: []string{"cp314t"}, Platform: []string{"manylinux_2_28_x86_64"}},
			local: "cu130", pythons: []string{"3.14t"}, linux: true, final: true},
		{name: "torch-2.0.1+cu118-cp310-cp310-linux_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.0.1+cu118", Python: []string{"cp310"}, ABI: []string{"cp310"}, Platform: []string{"linux_x86_64"}},
			local: "cu118", pythons: []string{"3.10"}, linux: true, final: true},
		{name: "torch-2.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
			want:    Wheel{Name: "torch", Version: "2.4.0", Python: []string{"cp311"}, ABI: []string{"cp311"}, Platform: []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64"}},
			pythons: []string{"3.11"}, linux: true, final: true},
		{name: "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_aarch64.whl",
			want:  Wheel{Name: "torch", Version: "2.9.1+cu128", Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"manylinux_2_28_aarch64"}},
			local: "cu128", pythons: []string{"3.12"}, final: true},
		{name: "torch-2.9.1+cu128-cp312-cp312-win_amd64.whl",
			want:  Wheel{Name: "torch", Version: "2.9.1+cu128", Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"win_amd64"}},
			local: "cu128", pythons: []string{"3.12"}, final: true},
		{name: "torch-2.10.0.dev20250101+cu128-cp312-cp312-manylinux_2_28_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.10.0.dev20250101+cu128", Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"manylinux_2_28_x86_64"}},
			local: "cu128", pythons: []string{"3.12"}, linux: true},
		{name: "torch-2.9.0rc3-cp312-cp312-manylinux_2_28_x86_64.whl",
			want:    Wheel{Name: "torch", Version: "2.9.0rc3", Python: []string{"cp312"}, ABI: []string{"cp312"}, Platform: []string{"manylinux_2_28_x86_64"}},
			pythons: []string{"3.12"}, linux: true},
		{name: "Nvidia_CUDNN_cu12-9.10.2.21-1-py3-none-manylinux_2_27_x86_64.whl",
			want:  Wheel{Name: "nvidia-cudnn-cu12", Version: "9.10.2.21", Build: "1", Python: []string{"py3"}, ABI: []string{"none"}, Platform: []string{"manylinux_2_27_x86_64"}},
			linux: true, final: true},
		{name: "torch-2.9.1+cpu-cp39.cp310-cp39.cp310-musllinux_1_2_x86_64.whl",
			want:  Wheel{Name: "torch", Version: "2.9.1+cpu", Python: []string{"cp39", "cp310"}, ABI: []string{"cp39", "cp310"}, Platform: []string{"musllinux_1_2_x86_64"}},
			local: "cpu", pythons: []string{"3.9", "3.10"}, final: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWheelName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Filename = tc.name
			if !reflect.DeepEqual(w, tc.want) {
				t.Errorf("got %+v\nwant %+v", w, tc.want)
			}
			if w.Local() != tc.local || !reflect.DeepEqual(w.Pythons(), tc.pythons) || w.LinuxX86_64() != tc.linux || w.FinalRelease() != tc.final {
				t.Errorf("local %q pythons %q linux %v final %v; want %q %q %v %v", w.Local(), w.Pythons(), w.LinuxX86_64(), w.FinalRelease(),
					tc.local, tc.pythons, tc.linux, tc.final)
			}
		})
	}
}

func TestParseWheelNameErrors(t *testing.T) {
	for name, want := range map[string]string{
		"torch-2.9.1.tar.gz":                              "does not end in .whl",
		"torch-latest.whl":                                "has 2 dash-separated parts",
		"torch-2.9.1-cp312-manylinux_2_28_x86_64.whl":     "has 4 dash-separated parts",
		"torch-two-cp312-cp312-manylinux_2_28_x86_64.whl": `bad version "two"`,
		"torch-2.9.1-x1-cp312-cp312-linux_x86_64.whl":     `bad build tag "x1"`,
		"torch-2.9.1-cp312-cp312-linux x86_64.whl":        `bad tag "linux x86_64"`,
		"-2.9.1-cp312-cp312-linux_x86_64.whl":             `bad project name ""`,
		"torch-2.9.1-cp312-cp312-linux_x86_64.whl.1-a-b":  "does not end in .whl",
	} {
		_, err := ParseWheelName(name)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "not a PEP 427 wheel name") {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"Torch": "torch", "nvidia_cudnn.cu12": "nvidia-cudnn-cu12", "a--_b": "a-b", "x": "x"} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
