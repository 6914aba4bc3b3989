package check

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/torchimg/torchimg/gpu/driver"
)

func TestRuntimeOf(t *testing.T) {
	const cfgPath = "etc/nvidia-container-runtime/config.toml"
	dpkg := func(v string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("Package: libnvidia-container1\nVersion: 9.9.9-1\n\nPackage: nvidia-container-toolkit\nStatus: install ok installed\nVersion: " + v + "\n\n")}
	}
	cfg := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want driver.Mode
		says string
	}{
		{"no toolkit", fstest.MapFS{}, driver.AnyMode, "both modes are judged"},
		{"legacy", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"legacy\"\n")}, driver.Legacy, `mode = "legacy"`},
		{"cdi", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"cdi\"\n")}, driver.CDI, "docker run --gpus"},
		{"jit-cdi", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"jit-cdi\"\n")}, driver.CDI, "jit-cdi"},
		{"csv", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"csv\"\n")}, driver.Legacy, "CSV"},
		{"auto, toolkit 1.18", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"auto\"\n"), "var/lib/dpkg/status": dpkg("1.18.0-1")}, driver.CDI, "nvidia-container-toolkit 1.18.0"},
		{"no mode, toolkit 1.17", fstest.MapFS{cfgPath: cfg("disable-require = false\n"), "var/lib/dpkg/status": dpkg("1.17.8-1")}, driver.Legacy, "legacy (jit-cdi only from 1.18.0)"},
		{"auto, version unknown", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"auto\"\n")}, driver.AnyMode, "version is not known"},
		{"bad toml", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime\n")}, driver.AnyMode, "cannot parse"},
		{"unknown mode", fstest.MapFS{cfgPath: cfg("[nvidia-container-runtime]\nmode = \"magic\"\n")}, driver.AnyMode, "does not know"},
	} {
		got, says := RuntimeOf(System{FS: tc.fs})
		if got != tc.want || !strings.Contains(says, tc.says) {
			t.Errorf("%s: %q (%s), want %q and %q", tc.name, got, says, tc.want, tc.says)
		}
	}
}

// libnvidia-container reads a driver's CUDA 12.10 as 12.0, so the legacy hook refuses what CDI runs.
func TestHookMisreadsTwoDigitMinor(t *testing.T) {
	db := testDB(t)
	im := torchimgImage(t, db, "2.9.1", "12.8.1", archs128)
	h := nvmlHost("600.10", "12.10", h100)
	h.Facts.HookCUDA = "12.0"
	r := Evaluate(im, withRuntime(h, "legacy"), db)
	if r.Verdict != NotCompatible || !strings.Contains(allText(r), "reads that version as 12.0") {
		t.Errorf("legacy: %s\n%s", r.Verdict, allText(r))
	}
	if r := Evaluate(im, withRuntime(h, "cdi"), db); r.Verdict != Compatible {
		t.Errorf("cdi: %s\n%s", r.Verdict, allText(r))
	}
}

// Labels an image controls never reach the terminal raw.
func TestTableEscapesImageText(t *testing.T) {
	db := testDB(t)
	im := torchimgImage(t, db, "2.9.1\x1b]52;c;ZXZpbA==\x07", "12.8.1", "8.0\nVerdict  COMPATIBLE\x1b[2J")
	r := Evaluate(im, nvmlHost("580.95.05", "13.0", h100), db)
	var b strings.Builder
	if err := WriteTable(&b, r, nvmlHost("580.95.05", "13.0", h100)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\nVerdict  COMPATIBLE"} {
		if strings.Contains(out, bad) {
			t.Errorf("table output has %q:\n%s", bad, out)
		}
	}
	verdicts := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Verdict") {
			verdicts++
		}
	}
	if !strings.Contains(out, `\x1b]52`) || verdicts != 1 {
		t.Errorf("escaped text missing or verdict forged:\n%s", out)
	}
}

// A NUL byte in an NVIDIA_REQUIRE_* value: no runtime can pass it to the container, so it
// cannot start (it is never "compatible" because the value reads as empty).
func TestNULInRequirement(t *testing.T) {
	db := testDB(t)
	im := torchimgImage(t, db, "2.9.1", "12.8.1", archs128)
	im.Env["NVIDIA_REQUIRE_CUDA"] = "\x00cuda>=12.8\x00"
	for _, mode := range []string{"legacy", "cdi", ""} {
		h := nvmlHost("535.104.05", "12.2", h100)
		if mode != "" {
			h = withRuntime(h, mode)
		}
		r := Evaluate(im, h, db)
		if r.Verdict != NotCompatible || !strings.Contains(allText(r), "NUL byte") {
			t.Errorf("mode %q: %s\n%s", mode, r.Verdict, allText(r))
		}
	}
}
