package host

import (
	"reflect"
	"testing"

	"github.com/torchimg/torchimg/gpu/require"
)

func TestRequireHost(t *testing.T) {
	f := Facts{DriverFound: true, Driver: "565.57.01", CUDA: "12.7", GPUs: []GPU{
		{Index: 0, Name: "NVIDIA GeForce RTX 4090", Brand: "geforce", Arch: "8.9"},
	}}
	want := require.Host{CUDA: "12.7", Driver: "565.57.01", Devices: []require.Device{{Name: "NVIDIA GeForce RTX 4090", Brand: "geforce", Arch: "8.9"}}}
	if h := f.RequireHost(); !reflect.DeepEqual(h, want) {
		t.Errorf("RequireHost = %+v", h)
	}
	if h := (Facts{Reason: "x"}).RequireHost(); !reflect.DeepEqual(h, require.Host{}) {
		t.Errorf("RequireHost without driver = %+v", h)
	}
}

func TestCUDAVersion(t *testing.T) {
	for in, want := range map[int]string{12040: "12.4", 12080: "12.8", 11080: "11.8", 13000: "13.0", 12090: "12.9", 10010: "10.1"} {
		if got := CUDAVersion(in); got != want {
			t.Errorf("CUDAVersion(%d) = %q, want %q", in, got, want)
		}
	}
}
