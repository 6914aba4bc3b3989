package imageenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	f := Facts{Variant: "2.9.1-cu128-py3.12-runtime-ubuntu24.04", Repository: "ghcr.io/acme/it's", Torch: "2.9.1", CUDA: "12.8",
		CUDAToolkit: "12.8.1", DriverMin: "570.124.06", DriverMinCompat: "525", ForwardCompat: []string{"535", "550"},
		CUDAArchs: "7.0;8.0;12.0", GPUNative: []string{"7.0", "8.0", "12.0"}, GPUPTX: nil,
		Alternatives: []Alternative{{CUDA: "12.6", DriverMin: "560.35.05"}}}
	got, err := Parse(f.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, f)
	}
	// A POSIX shell reads the same values.
	p := filepath.Join(t.TempDir(), "image.env")
	if err := os.WriteFile(p, f.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", `. "$1"; printf '%s|%s|%s' "$TORCHIMG_REPOSITORY" "$TORCHIMG_FORWARD_COMPAT" "$TORCHIMG_ALTERNATIVES"`, "sh", p).Output()
	if err != nil || string(out) != "ghcr.io/acme/it's|535 550|12.6=560.35.05" {
		t.Errorf("sh read %q, %v", out, err)
	}
}

func TestParse(t *testing.T) {
	f, err := Parse([]byte("# c\n\nexport TORCHIMG_TORCH=\"2.9.1\"\nTORCHIMG_CUDA=12.8 # note\nTORCHIMG_OTHER='x'\n"))
	if err != nil || f.Torch != "2.9.1" || f.CUDA != "12.8" {
		t.Errorf("%+v %v", f, err)
	}
	if _, err := Parse([]byte("TORCHIMG_TORCH\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a line without = must be an error naming it: %v", err)
	}
}
