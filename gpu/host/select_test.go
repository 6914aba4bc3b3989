package host

import (
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	f := Facts{DriverFound: true, Driver: "570.124.06", GPUs: []GPU{
		{Index: 0, UUID: "GPU-8e5c0a1b-0000-0000-0000-000000000000"},
		{Index: 1, UUID: "GPU-8e5c0a1b-1111-0000-0000-000000000000"},
		{Index: 2, UUID: "GPU-12345678-2222-0000-0000-000000000000"},
	}}
	for _, tc := range []struct {
		name   string
		sel    Selection
		want   []int
		errHas string
	}{
		{"nothing selected: all", Selection{}, []int{0, 1, 2}, ""},
		{"all", Selection{"all", "NVIDIA_VISIBLE_DEVICES"}, []int{0, 1, 2}, ""},
		{"none", Selection{"none", "NVIDIA_VISIBLE_DEVICES"}, nil, ""},
		{"void", Selection{"void", "NVIDIA_VISIBLE_DEVICES"}, nil, ""},
		{"indices in their order", Selection{"2,0", "--gpus"}, []int{2, 0}, ""},
		{"docker form", Selection{`"device=1"`, "--gpus"}, []int{1}, ""},
		{"uuid prefix", Selection{"GPU-1234", "--gpus"}, []int{2}, ""},
		{"ambiguous uuid prefix", Selection{"GPU-8e5c", "--gpus"}, nil, "give more of it"},
		{"no such index", Selection{"3", "--gpus"}, nil, "no GPU 3"},
		{"MIG", Selection{"MIG-abc", "NVIDIA_VISIBLE_DEVICES"}, nil, "MIG device"},
		{"named twice", Selection{"0,0", "--gpus"}, nil, "twice"},
		{"CUDA stops at an invalid entry", Selection{"1,7,0", "CUDA_VISIBLE_DEVICES"}, []int{1}, ""},
		{"CUDA -1 hides all", Selection{"-1", "CUDA_VISIBLE_DEVICES"}, nil, ""},
	} {
		got, err := Select(f, tc.sel)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var idx []int
		for _, g := range got.GPUs {
			idx = append(idx, g.Index)
		}
		if len(idx) != len(tc.want) || (len(idx) > 0 && !equal(idx, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, idx, tc.want)
		}
	}
	if s := SelectionFrom("", map[string]string{"CUDA_VISIBLE_DEVICES": "1", "NVIDIA_VISIBLE_DEVICES": "0"}); s.Source != "NVIDIA_VISIBLE_DEVICES" {
		t.Errorf("precedence: %+v", s)
	}
	if s := SelectionFrom("2", map[string]string{"NVIDIA_VISIBLE_DEVICES": "0"}); s.Source != "--gpus" {
		t.Errorf("the flag wins: %+v", s)
	}
}

func equal(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestCUDAVersionFormats(t *testing.T) {
	for v, want := range map[int]string{12040: "12.4", 12080: "12.8", 13000: "13.0", 12100: "12.10", 13120: "13.12", 11080: "11.8"} {
		if got := CUDAVersion(v); got != want {
			t.Errorf("CUDAVersion(%d) = %s, want %s", v, got, want)
		}
	}
	// libnvidia-container's driver.c formats the minor as v%100/10, so it reads 12.10 as 12.0.
	for v, want := range map[int]string{12080: "12.8", 12100: "12.0", 13120: "13.2"} {
		if got := HookCUDAVersion(v); got != want {
			t.Errorf("HookCUDAVersion(%d) = %s, want %s", v, got, want)
		}
	}
}
