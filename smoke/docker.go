package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
)

// Docker runs the probe with `docker run --gpus`, which needs the NVIDIA Container Toolkit on
// the host. A torchimg image starts through its own entrypoint, as users start it: its
// self-check runs first and what it says goes into the smoke report; another image's entrypoint
// is replaced by sh. The probe is mounted read-only, and the container has no network.
type Docker struct {
	// Binary is the docker CLI (default "docker" on PATH).
	Binary string
	// GPUs is the --gpus value (default "all").
	GPUs string
	// TempDir holds the probe script while the container runs (default os.TempDir()).
	TempDir string
}

var (
	_ Runner   = (*Docker)(nil)
	_ Checker  = (*Docker)(nil)
	_ Selector = (*Docker)(nil)
)

// ErrNoToolkit is what docker's `could not select device driver "" with capabilities: [[gpu]]` means.
var ErrNoToolkit = errors.New("NVIDIA Container Toolkit is not installed or not configured (install it and run nvidia-ctk runtime configure)")

// Name implements Runner.
func (d *Docker) Name() string { return "docker" }

func (d *Docker) binary() string {
	if d.Binary == "" {
		return "docker"
	}
	return d.Binary
}

// Selects implements Selector: docker pulls the staged image.
func (d *Docker) Selects(t Target) (bool, string) {
	if t.Ref == "" {
		return false, "the image was not pushed to a staging repository (build with --stage)"
	}
	return true, ""
}

// Check implements Checker: the CLI is installed and a daemon answers.
func (d *Docker) Check(ctx context.Context) error {
	bin, err := exec.LookPath(d.binary())
	if err != nil {
		return fmt.Errorf("the docker CLI (%s) is not installed or not on PATH; install Docker, or use --runner buildkit or --runner host", d.binary())
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "version", "--format", "{{.Server.Version}}")
	cmd.Stderr = &stderr
	if _, err := cmd.Output(); err != nil {
		return DockerError(stderr.String(), err)
	}
	return nil
}

// Command is the docker command line that runs the probe of t, with the probe script in dir.
func (d *Docker) Command(t Target, dir string) []string {
	gpus := d.GPUs
	if gpus == "" {
		gpus = "all"
	}
	probe := probeCommand(append([]string{"--gpu"}, t.ProbeArgs...)...)
	args := []string{d.binary(), "run", "--rm", "--gpus", gpus, "--network", "none",
		"-v", dir + ":" + probeDir + ":ro"}
	if t.LabelsPrefix != "" {
		// The torchimg entrypoint runs the self-check, then exec "$@": the probe.
		return append(append(args, "-e", "TORCHIMG_SELFCHECK=1", t.Ref), probe...)
	}
	args = append(args, "--entrypoint", probe[0], t.Ref)
	return append(args, probe[1:]...)
}

// SelfCheckPrefix starts every line the in-image self-check prints.
const SelfCheckPrefix = "torchimg: "

// selfCheckLines are the self-check's lines of a container's stderr.
func selfCheckLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, SelfCheckPrefix) {
			out = append(out, strings.TrimPrefix(l, SelfCheckPrefix))
		}
	}
	return out
}

// Run implements Runner.
func (d *Docker) Run(ctx context.Context, t Target) (*report.Findings, error) {
	dir, err := writeScript(d.TempDir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	argv := d.Command(t, dir)
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("the docker CLI (%s) is not installed or not on PATH; install Docker, or use --runner buildkit or --runner host", argv[0])
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, DockerError(stderr.String(), err)
	}
	f, err := probe.ParseFindings(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("docker run %s: %w; stderr:\n%s", t.Ref, err, tail(stderr.String(), 20))
	}
	f.SelfCheck = selfCheckLines(stderr.String())
	return f, nil
}

// DockerError turns a failed docker command's stderr into an error that says what to do.
func DockerError(stderr string, err error) error {
	s := strings.TrimSpace(stderr)
	switch {
	case strings.Contains(s, `could not select device driver "" with capabilities: [[gpu]]`):
		return ErrNoToolkit
	case strings.Contains(s, "Cannot connect to the Docker daemon") || strings.Contains(s, "Is the docker daemon running"):
		return fmt.Errorf("the Docker daemon is not running or not reachable (start it, e.g. 'sudo systemctl start docker', or set DOCKER_HOST): %s", firstLine(s))
	case strings.Contains(s, "permission denied while trying to connect to the Docker daemon"):
		return fmt.Errorf("no permission to use the Docker daemon (add the user to the docker group, or run as root): %s", firstLine(s))
	case strings.Contains(s, "nvidia-container-cli") && strings.Contains(s, "requirement error"):
		return fmt.Errorf("the NVIDIA container runtime refused the image, the host's driver does not meet its NVIDIA_REQUIRE_CUDA: %s", fromCLI(s, "requirement error"))
	case strings.Contains(s, "nvidia-container-cli") && strings.Contains(s, "initialization error"):
		return fmt.Errorf("the NVIDIA container runtime found no working driver: %s", fromCLI(s, "initialization error"))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if s == "" {
			return fmt.Errorf("docker exited with status %d", ee.ExitCode())
		}
		return fmt.Errorf("docker exited with status %d: %s", ee.ExitCode(), tail(s, 20))
	}
	if s != "" {
		return fmt.Errorf("docker: %v: %s", err, tail(s, 20))
	}
	return fmt.Errorf("docker: %w", err)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// fromCLI returns the nvidia-container-cli message of the line that contains sub, without
// docker's and runc's prefixes and suffixes.
func fromCLI(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, sub) {
			continue
		}
		if i := strings.Index(l, "nvidia-container-cli:"); i >= 0 {
			l = l[i:]
		}
		l = strings.TrimSpace(l)
		l = strings.TrimSuffix(strings.TrimSuffix(l, "."), ": unknown")
		return l
	}
	return firstLine(s)
}
