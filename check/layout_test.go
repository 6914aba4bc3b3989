package check_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/check"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/testenv/cudaimage"
	"github.com/torchimg/torchimg/matrix/compat"
)

// check on an OCI layout that has the environment of nvidia/cuda:12.1.1-base-ubuntu22.04: its
// brand clauses let a GeForce on 525 start, and its forward-compatibility libraries then fail
// with error 804; a Tesla on 470 runs it through them.
func TestCheckOnLayout(t *testing.T) {
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cuda")
	if err := cudaimage.WriteLayout(dir, db, "12.1.1", "ubuntu22.04"); err != nil {
		t.Fatal(err)
	}
	rc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := inspect.Image(context.Background(), rc, "oci:"+dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		driver, cuda, brand string
		want                check.Status // of the driver part (the stand-in states no architectures)
		has                 string
	}{
		{"525.147.05", "12.0", "geforce", check.Fail, "error 804"},
		{"470.256.02", "11.4", "tesla", check.OK, "runs through forward compatibility"},
		{"530.30.02", "12.1", "geforce", check.OK, "runs natively"},
		{"515.65.01", "11.7", "tesla", check.Fail, "error 803"},
	} {
		h := check.Host{Facts: host.Facts{DriverFound: true, Driver: tc.driver, CUDA: tc.cuda, GPUs: []host.GPU{{Brand: tc.brand, Arch: "8.9"}}}}
		r := check.Evaluate(info, h, db)
		var text strings.Builder
		st := check.OK
		for _, rs := range r.Reasons {
			text.WriteString(rs.Message + "\n")
			if rs.Part == check.PartDriver && rs.Status != check.OK {
				st = rs.Status
			}
		}
		if st != tc.want || !strings.Contains(text.String(), tc.has) {
			t.Errorf("driver %s %s: driver %s, want %s with %q\n%s", tc.driver, tc.brand, st, tc.want, tc.has, text.String())
		}
	}
}
