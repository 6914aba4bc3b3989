package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/templates/imageenv"
)

// Host runs the probe with a Python on this machine: for CI jobs that already run inside the
// image (a job `container:` with the GPU passed in). Inside a torchimg image (its
// /etc/torchimg/image.env names the variant) it tests only that variant.
type Host struct {
	// Python is the interpreter (default python3 on PATH, else python).
	Python string
	// ImageEnv is the image facts file (default imageenv.Path); "-" reads none.
	ImageEnv string
	// TempDir holds the probe script while it runs (default os.TempDir()).
	TempDir string
}

var (
	_ Runner   = (*Host)(nil)
	_ Checker  = (*Host)(nil)
	_ Selector = (*Host)(nil)
)

// Name implements Runner.
func (h *Host) Name() string { return "host" }

func (h *Host) python() (string, error) {
	if h.Python != "" {
		p, err := exec.LookPath(h.Python)
		if err != nil {
			return "", fmt.Errorf("--python %s: %w", h.Python, err)
		}
		return p, nil
	}
	for _, n := range []string{"python3", "python"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no python3 or python on PATH (the host runner runs the probe with the current Python; pass --python)")
}

// Check implements Checker.
func (h *Host) Check(context.Context) error {
	_, err := h.python()
	return err
}

// Variant is the variant id of the image this process runs in ("" when not in a torchimg image).
func (h *Host) Variant() string {
	path := h.ImageEnv
	if path == "-" {
		return ""
	}
	if path == "" {
		path = imageenv.Path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	f, err := imageenv.Parse(data)
	if err != nil {
		return ""
	}
	return f.Variant
}

// Selects implements Selector: inside a torchimg image, only its own variant. Outside one,
// the Python found here says nothing about the staged images, so nothing is selected unless a
// Python was named explicitly (--python).
func (h *Host) Selects(t Target) (bool, string) {
	v := h.Variant()
	if v != "" && v != t.ID {
		return false, fmt.Sprintf("the host runner tests only the image it runs in (%s)", v)
	}
	if v == "" && h.Python == "" {
		return false, "the host runner runs inside a torchimg image (there is no /etc/torchimg/image.env here); use the buildkit or docker runner, or --python to test a given Python for this variant"
	}
	return true, ""
}

// Run implements Runner.
func (h *Host) Run(ctx context.Context, t Target) (*report.Findings, error) {
	py, err := h.python()
	if err != nil {
		return nil, err
	}
	dir, err := writeScript(h.TempDir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "probe.py")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, append([]string{script, "--gpu"}, t.ProbeArgs...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = withoutEnv(os.Environ(), "TORCHIMG_PROBE_OUT")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s probe.py: %v: %s", py, err, tail(stderr.String(), 20))
	}
	f, err := probe.ParseFindings(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s probe.py: %w; stderr:\n%s", py, err, tail(stderr.String(), 20))
	}
	return f, nil
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// writeScript puts probe.py into a new directory under tmp that anyone can read (the image's
// user may not be root); the caller removes it.
func writeScript(tmp string) (string, error) {
	dir, err := os.MkdirTemp(tmp, "torchimg-probe-")
	if err != nil {
		return "", fmt.Errorf("probe script: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("probe script: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe.py"), probe.Script, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("probe script: %w", err)
	}
	return dir, nil
}
