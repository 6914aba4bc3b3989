package driver_test

import (
	"testing"

	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/driver/drivertest"
	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/matrix/compat"
)

func TestJudge(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range drivertest.Cases {
		im := driver.ImageOf(nil, "", map[string]string{"NVIDIA_REQUIRE_CUDA": db.RequireCUDA(tc.Toolkit).Value, "CUDA_VERSION": tc.Toolkit}, db)
		j := driver.Judge(im, driver.Host{Driver: tc.Driver, CUDA: tc.CUDA, Devices: []require.Device{{Brand: tc.Brand, Arch: "9.0"}}})
		if j.Status() != tc.Want {
			t.Errorf("%s: %s (%s), want %s", tc.Name, j.Status(), j.Reason(), tc.Want)
		}
	}
	// The same image without any requirement is judged by its minimum driver.
	bare := driver.ImageOf(nil, "", map[string]string{"NVIDIA_DISABLE_REQUIRE": "1", "CUDA_VERSION": "12.8.1"}, db)
	for drv, want := range map[string]driver.Status{"570.124.06": driver.OK, "550.54.15": driver.Warn, "470.256.02": driver.Fail} {
		if got := driver.Judge(bare, driver.Host{Driver: drv}).Status(); got != want {
			t.Errorf("no requirement, driver %s: %s, want %s", drv, got, want)
		}
	}
}

func TestCUDAOf(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		driver, want string
		ok           bool
	}{
		{"525.147.05", "12.0", true},
		{"535.104.05", "12.2", true},
		{"535.86.09", "12.2", true},
		{"535.54.02", "12.1", true},
		{"570.124.06", "12.8", true},
		{"565.57.01", "12.6", true},
		{"580.95.05", "13.0", true},
		{"520.61.05", "11.8", true},
		{"470.256.02", "", false},
		{"garbage", "", false},
	} {
		got, ok := driver.CUDAOf(db, tc.driver)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CUDAOf(%s) = %q, %v; want %q, %v", tc.driver, got, ok, tc.want, tc.ok)
		}
	}
}
