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
		im := driver.ImageOf(nil, "", tc.Env(db), db)
		j := driver.Judge(im, driver.Host{Driver: tc.Driver, CUDA: tc.CUDA, Mode: tc.Mode, Devices: []require.Device{{Brand: tc.Brand, Arch: "9.0"}}})
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
		atLeast, ok  bool
	}{
		{"525.147.05", "12.0", false, true},
		{"535.104.05", "12.2", false, true},
		{"535.54.02", "12.2", false, true}, // the branch reports 12.2, whatever its build
		{"570.86.10", "12.8", false, true},
		{"565.57.01", "12.7", false, true}, // no 12.7 toolkit exists, but the driver reports it
		{"580.95.05", "13.0", false, true},
		{"520.61.05", "11.8", false, true},
		{"515.65.01", "11.7", false, true},
		{"510.47.03", "11.6", false, true},
		{"470.256.02", "11.4", false, true},
		{"600.10", "13.2", true, true}, // a branch not in the data: a lower bound from the update releases
		{"650.1", "13.4", true, true},  // newer than the data
		{"440.33", "", false, false},
		{"garbage", "", false, false},
	} {
		got, atLeast, ok := driver.CUDAOf(db, tc.driver)
		if got != tc.want || atLeast != tc.atLeast || ok != tc.ok {
			t.Errorf("CUDAOf(%s) = %q, %v, %v; want %q, %v, %v", tc.driver, got, atLeast, ok, tc.want, tc.atLeast, tc.ok)
		}
	}
}
