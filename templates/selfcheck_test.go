package templates

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The self-check script, run with sh on this machine (no GPU devices here): it must read the
// driver version from both kernel-module spellings and never fail the command.
func TestSelfCheckScript(t *testing.T) {
	if _, err := os.Stat("/dev/nvidia0"); err == nil {
		t.Skip("a GPU device is present: this test covers hosts without one")
	}
	dir := t.TempDir()
	script, err := embedded.ReadFile("default/selfcheck.sh")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sc := write("selfcheck.sh", string(script))
	facts := write("image.env", "TORCHIMG_CUDA='12.8'\nTORCHIMG_DRIVER_MIN='570.124.06'\nTORCHIMG_DRIVER_MIN_COMPAT='525'\n")
	for name, tc := range map[string]struct{ version, want string }{
		"proprietary": {"NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n", "the host has NVIDIA driver 550.54.15 but no GPU was passed"},
		"open":        {"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16)  Thu Aug 22 2024\n", "the host has NVIDIA driver 560.35.03 but no GPU was passed"},
		"no driver":   {"", "no NVIDIA GPU in this container"},
	} {
		t.Run(name, func(t *testing.T) {
			vf := filepath.Join(dir, "missing")
			if tc.version != "" {
				vf = write("version-"+name, tc.version)
			}
			cmd := exec.Command("sh", sc)
			cmd.Env = append(os.Environ(), "TORCHIMG_FACTS_FILE="+facts, "TORCHIMG_NVIDIA_VERSION_FILE="+vf)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("self-check exited with %v: %s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q, want %q", out, tc.want)
			}
		})
	}
}
