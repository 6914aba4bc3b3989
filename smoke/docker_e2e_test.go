package smoke_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/internal/testenv"
	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
	"github.com/torchimg/torchimg/templates"
)

// The message of a real dockerd (20.10 and later) for `docker run --gpus all` on a machine
// without the NVIDIA Container Toolkit.
const noToolkitMessage = `could not select device driver "" with capabilities: [[gpu]]`

// TestDockerEndToEnd runs the docker smoke runner against a real Docker engine (Debian's
// docker.io, started on its own socket by testenv): a variant built with the production template
// into the test registry is pulled by that engine and probed through smoke.Docker.
func TestDockerEndToEnd(t *testing.T) {
	testenv.RequireDocker(t)
	started := time.Now()
	env := testenv.New(t, testenv.Options{})
	dk := testenv.NewDocker(t, env, testenv.DockerOptions{})
	dk.Setenv(t) // smoke.Docker runs the docker CLI, which reads DOCKER_HOST
	t.Logf("environment and dockerd up in %s (%s)", time.Since(started).Round(time.Millisecond), dk.Host)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	res, regc := buildStaged(ctx, t, env)
	rep := &report.Build{LabelsPrefix: "io.torchimg", Variants: []*report.BuildEntry{res,
		{ID: "2.9.1-cu126-broken", Status: report.Failed, Error: "exit code: 3"}}}
	targets := smoke.Targets(rep)
	imageEnv := smoke.RegistryEnv(regc)
	runner := &smoke.Docker{TempDir: t.TempDir()}

	t.Run("Check", func(t *testing.T) {
		if err := runner.Check(ctx); err != nil {
			t.Fatalf("Check with the test's dockerd: %v", err)
		}
		// The real CLI's message when no daemon listens.
		t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "nobody.sock"))
		if err := runner.Check(ctx); err == nil || !strings.Contains(err.Error(), "the Docker daemon is not running or not reachable") {
			t.Errorf("Check without a daemon: %v", err)
		}
	})

	t.Run("NoToolkit", func(t *testing.T) {
		// The daemon's own words first (this also pulls the image), then what the runner makes
		// of them: the same error whoever prints it.
		start := time.Now()
		if out, code := dockerCLI(ctx, t, "pull", "--quiet", res.StagedRef); code != 0 {
			t.Fatalf("docker pull %s: exit %d: %s", res.StagedRef, code, out)
		}
		t.Logf("docker pull %s in %s", res.StagedRef, time.Since(start).Round(time.Millisecond))
		out, code := dockerCLI(ctx, t, "run", "--rm", "--gpus", "all", "--network", "none", res.StagedRef, "true")
		t.Logf("docker run --gpus all: exit %d: %s", code, strings.TrimSpace(out))
		if code == 0 || !strings.Contains(out, noToolkitMessage) {
			t.Fatalf("docker run --gpus all without the toolkit: exit %d, output %q; want the daemon's %q", code, out, noToolkitMessage)
		}
		_, err := runner.Run(ctx, targets[0])
		if !errors.Is(err, smoke.ErrNoToolkit) || !strings.Contains(err.Error(), "NVIDIA Container Toolkit is not installed or not configured") {
			t.Errorf("Run: %v, want smoke.ErrNoToolkit", err)
		}
		sr, err := smoke.Run(ctx, targets, smoke.Options{Mode: smoke.ModeOn, Runner: runner, Host: static(h100), ImageEnv: imageEnv, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		if v := sr.Variants[0]; v.Status != report.Failed || !v.Required || v.Reason != smoke.ErrNoToolkit.Error() {
			t.Errorf("smoke report: %+v, want failed with %q", v, smoke.ErrNoToolkit)
		}
		if v := sr.Variants[1]; v.Status != report.Skipped || !strings.HasPrefix(v.Reason, smoke.ReasonBuildFailed) {
			t.Errorf("failed build: %+v", v)
		}
	})

	// A stand-in for the toolkit's hook on dockerd's PATH: --gpus all is accepted and the probe
	// runs in the pulled image (no GPU is passed in).
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	hookDir, err := testenv.FakeNVIDIAHook(t.TempDir(), hookLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := dk.Restart(ctx, []string{hookDir}); err != nil {
		t.Fatalf("restart dockerd with %s: %v", testenv.NVIDIAHook, err)
	}

	t.Run("Probe", func(t *testing.T) {
		start := time.Now()
		f, err := runner.Run(ctx, targets[0])
		if err != nil {
			t.Fatalf("Run: %v\ndockerd log:\n%s", err, dk.LogTail(20))
		}
		t.Logf("probe through docker in %s: %s", time.Since(start).Round(time.Millisecond), jsonString(f))
		if hook, _ := os.ReadFile(hookLog); !strings.Contains(string(hook), "prestart ") || !strings.Contains(string(hook), "NVIDIA_VISIBLE_DEVICES=all") {
			t.Errorf("dockerd did not run the toolkit hook for --gpus all (NVIDIA_VISIBLE_DEVICES=all); hook log: %q", hook)
		}
		// The probe found the image the build probed: its labels hold.
		if r := probe.Compare(res.Labels, rep.LabelsPrefix, nil, f); r.Status != report.Passed {
			t.Errorf("the image contradicts its labels under docker: %s", r.Diff())
		}
		if f.Torch != "2.9.1+cu128" || f.GPU == nil || f.GPU.Available || f.GPU.Error != "torch.cuda.is_available() is False" {
			t.Errorf("findings: torch %q GPU %+v", f.Torch, f.GPU)
		}
		sr, err := smoke.Run(ctx, targets[:1], smoke.Options{Mode: smoke.ModeOn, Runner: runner, Host: static(h100), ImageEnv: imageEnv})
		if err != nil {
			t.Fatal(err)
		}
		if v := sr.Variants[0]; v.Status != report.Failed || v.Reason != "torch sees no GPU (torch.cuda.is_available() is False)" || v.GPU == nil || v.Ref != res.StagedRef {
			t.Errorf("smoke report: %+v", v)
		}
		// The image ran through its entrypoint: its self-check's message is in the report.
		if v := sr.Variants[0]; len(v.SelfCheck) == 0 || !strings.Contains(strings.Join(v.SelfCheck, "\n"), "GPU") {
			t.Errorf("the self-check's message did not reach the smoke report: %q", v.SelfCheck)
		}
	})

	t.Run("SelfCheck", func(t *testing.T) {
		// The image's entrypoint under the real engine: the self-check speaks before the command.
		for _, tc := range []struct {
			name string
			args []string
			want string // on stderr; "" = silent
		}{
			{"no GPU flags", nil, "torchimg: no NVIDIA GPU in this container (no driver, no /dev/nvidia* devices): torch will use the CPU."},
			{"--gpus all, nothing passed in", []string{"--gpus", "all"}, "torchimg: no NVIDIA GPU in this container"},
			{"device without the toolkit's libraries", []string{"--device", "/dev/null:/dev/nvidia0"},
				"torchimg: GPU devices are present ( /dev/nvidia0 ) but the driver library libcuda.so.1 is not: the NVIDIA Container Toolkit is missing or not configured."},
			{"switched off", []string{"-e", "TORCHIMG_SELFCHECK=0"}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := append(append([]string{"run", "--rm", "--network", "none"}, tc.args...), res.StagedRef, "echo", "command-ran")
				out, code := dockerCLI(ctx, t, args...)
				if code != 0 || !strings.Contains(out, "command-ran") {
					t.Fatalf("docker %s: exit %d, output %q: the command did not run after the self-check", strings.Join(args, " "), code, out)
				}
				if tc.want == "" && strings.Contains(out, "torchimg:") {
					t.Errorf("self-check spoke while switched off: %q", out)
				}
				if tc.want != "" && !strings.Contains(out, tc.want) {
					t.Errorf("output %q lacks %q", out, tc.want)
				}
			})
		}
	})
}

// dockerCLI runs the docker CLI (DOCKER_HOST of the test) and returns stdout and stderr together
// and the exit status.
func dockerCLI(ctx context.Context, t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	default:
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}

// buildStaged builds one variant (fixture torch 2.9.1+cu128, the production template) into the
// staging repository of the Env's registry.
func buildStaged(ctx context.Context, t *testing.T, env *testenv.Env) (*report.BuildEntry, *registry.Client) {
	t.Helper()
	env.AddTorch(t, testenv.Torch291("12.8"))
	p := testenv.LoadPlan(t, t.TempDir(), fmt.Sprintf(`repository: %[1]s/e2e/pytorch
defaults: {base: "%[2]s", index_url: "%[3]s", pip_index_url: "%[3]s", compiler: false}
include:
  - {torch: "2.9.1", cuda: "12.8", os: debian12, python: "3.11"}
tags:
  - {template: "{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.OS}}", kind: immutable}
`, env.RegistryHost, env.BaseImage, env.IndexURL))
	d := env.Daemon(ctx, t)
	regc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Variants[0]
	rc, err := templates.Render(p, v)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := build.NewBuildKit(d, t.TempDir(), regc).Build(ctx, build.Request{Plan: p, Variant: v, Context: rc, Epoch: 1700000000,
		Output: build.Output{StageRepo: env.RegistryHost + "/e2e/staging"}})
	if err != nil || res.Status != report.Passed {
		t.Fatalf("build: %v %+v", err, res)
	}
	t.Logf("built %s as %s in %s", v.ID, res.StagedRef, time.Since(start).Round(time.Millisecond))
	return res, regc
}
