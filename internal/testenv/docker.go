package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A Docker engine of the test's own: Debian's docker.io (dockerd 20.10) with a containerd of its
// own, every socket, state and pid file in one temporary directory. Nothing uses the machine's
// docker or containerd sockets; no network is set up on the host (no bridge, no iptables rules,
// no IP forwarding): containers run with --network none or host. The docker CLI (any recent
// one) reaches it through DOCKER_HOST.
//
// dockerd also writes /etc/docker/key.json when it is missing (20.10 has no flag for its path);
// a key written by this Docker is removed again once the daemon is up.

const (
	dockerStartTimeout = 90 * time.Second
	dockerStopTimeout  = 20 * time.Second
	// NVIDIAHook is the program docker's --gpus looks for on dockerd's PATH when it starts
	// (dockerd registers its "nvidia" device driver only then); the NVIDIA Container Toolkit
	// installs it.
	NVIDIAHook = "nvidia-container-runtime-hook"
)

// DockerOptions configure StartDocker.
type DockerOptions struct {
	// InsecureRegistries are passed as --insecure-registry (Env.StartDocker adds the Env's registry).
	InsecureRegistries []string
	// PathPrepend are directories put first on dockerd's PATH, e.g. one holding a stand-in for
	// NVIDIAHook (see FakeNVIDIAHook).
	PathPrepend []string
	Logf        func(format string, args ...any)
}

// Docker is a running dockerd with its containerd. Fields are read-only.
type Docker struct {
	Host string // DOCKER_HOST: "unix:///<dir>/docker.sock"
	// ConfigDir is an empty docker CLI config dir (DOCKER_CONFIG), so the CLI reads no
	// ~/.docker/config.json or credential helpers of the machine.
	ConfigDir string

	dir        string
	opts       DockerOptions
	logf       func(string, ...any)
	containerd *daemonProc
	dockerd    *daemonProc
}

// binDirs are searched for dockerd and containerd after PATH (a user's PATH may lack sbin).
var binDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}

// dockerBinaries finds dockerd and containerd; the error says how to get them.
func dockerBinaries() (dockerd, containerd string, err error) {
	var missing []string
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range binDirs {
			if p := filepath.Join(d, name); exists(p) {
				return p
			}
		}
		missing = append(missing, name)
		return ""
	}
	dockerd, containerd = find("dockerd"), find("containerd")
	if len(missing) > 0 {
		return "", "", fmt.Errorf("%s not installed: the docker end-to-end tests start a Docker engine of their own (Debian's docker.io); run hack/prereqs.sh docker as root, or apt-get install docker.io", strings.Join(missing, " and "))
	}
	return dockerd, containerd, nil
}

// DockerInstalled reports whether dockerd and containerd are installed, and if not, why.
func DockerInstalled() (bool, string) {
	if _, _, err := dockerBinaries(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// StartDocker starts containerd and dockerd with their state under dir (which must exist and be
// short: unix socket paths are limited to 108 bytes) and waits until dockerd answers.
func StartDocker(ctx context.Context, dir string, opts DockerOptions) (_ *Docker, err error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if _, _, err := dockerBinaries(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("runc"); err != nil && !exists("/usr/sbin/runc") {
		return nil, errors.New("runc is not installed (dockerd needs it): run hack/prereqs.sh or apt-get install runc")
	}
	d := &Docker{dir: dir, opts: opts, logf: logf, Host: "unix://" + filepath.Join(dir, "docker.sock"), ConfigDir: filepath.Join(dir, "cli")}
	if err := os.MkdirAll(d.ConfigDir, 0o700); err != nil {
		return nil, err
	}
	if err := d.writeConfigs(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// StartDocker starts a Docker engine in the Env's directory that may pull from the Env's registry.
// Env.Close stops it too, if the caller has not.
func (e *Env) StartDocker(ctx context.Context, opts DockerOptions) (*Docker, error) {
	opts.InsecureRegistries = append([]string{e.RegistryHost}, opts.InsecureRegistries...)
	if opts.Logf == nil {
		opts.Logf = e.logf
	}
	dir, err := os.MkdirTemp(e.dir, "docker-")
	if err != nil {
		return nil, err
	}
	d, err := StartDocker(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	e.builderMu.Lock()
	e.dockers = append(e.dockers, d)
	e.builderMu.Unlock()
	return d, nil
}

// RequireDocker stops a test that needs a Docker engine when docker.io is not installed: under
// -short it skips with the reason; in a full run it fails, saying how to install it (a full run
// never skips). Call it before New to fail before anything is started.
func RequireDocker(t testing.TB) {
	t.Helper()
	if ok, why := DockerInstalled(); !ok {
		if testing.Short() {
			t.Skip("docker end-to-end: " + why)
		}
		t.Fatalf("testenv: %s", why)
	}
}

// NewDocker is Env.StartDocker for tests (RequireDocker first). It stops the engine in t.Cleanup.
func NewDocker(t testing.TB, e *Env, opts DockerOptions) *Docker {
	t.Helper()
	RequireDocker(t)
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, err := e.StartDocker(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: cannot start dockerd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("testenv: docker: %v", err)
		}
	})
	return d
}

// Environ is the environment for a docker CLI that talks to this engine: os.Environ() with
// DOCKER_HOST and DOCKER_CONFIG set (and DOCKER_CONTEXT, DOCKER_TLS* removed).
func (d *Docker) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DOCKER_HOST" || k == "DOCKER_CONFIG" || k == "DOCKER_CONTEXT" || strings.HasPrefix(k, "DOCKER_TLS") || k == "DOCKER_CERT_PATH" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+d.ConfigDir)
}

// Setenv points the docker CLI of the test process at this engine (t.Setenv: not for parallel tests).
func (d *Docker) Setenv(t testing.TB) {
	t.Helper()
	for _, k := range []string{"DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("DOCKER_HOST", d.Host)
	t.Setenv("DOCKER_CONFIG", d.ConfigDir)
}

// Log is dockerd's log file (valid until Close).
func (d *Docker) Log() string { return filepath.Join(d.dir, "dockerd.log") }

// LogTail is the last n lines of dockerd's log, for error messages.
func (d *Docker) LogTail(n int) string { return fileTail(d.Log(), n) }

// DockerdPID is dockerd's process id, or 0 when it is not running.
func (d *Docker) DockerdPID() int { return d.dockerd.pid() }

// Restart stops dockerd (containerd keeps running) and starts it again with the same state
// (pulled images stay) and opts.PathPrepend: dockerd looks for NVIDIAHook only when it starts.
func (d *Docker) Restart(ctx context.Context, pathPrepend []string) error {
	if err := d.dockerd.stop(); err != nil {
		return err
	}
	d.opts.PathPrepend = pathPrepend
	return d.startDockerd(ctx)
}

// Close stops dockerd, then containerd (SIGTERM, then SIGKILL to the process group), unmounts
// and removes the state directory. It is safe to call more than once.
func (d *Docker) Close() error {
	var errs []error
	if err := d.dockerd.stop(); err != nil {
		errs = append(errs, err)
	}
	if err := d.containerd.stop(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && exists(d.dir) {
		if err := removeState(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d.dir, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Docker) path(p string) string { return filepath.Join(d.dir, p) }

// writeConfigs writes containerd's config (every path in dir, no CRI plugin) and an empty
// daemon.json, so dockerd reads no /etc/docker/daemon.json.
func (d *Docker) writeConfigs() error {
	q := strconv.Quote
	cfg := fmt.Sprintf(`# containerd for torchimg's docker end-to-end tests (internal/testenv)
version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[debug]
  address = %s

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %s
`, q(d.path("containerd/root")), q(d.path("containerd/state")), q(d.path("containerd.sock")), q(d.path("containerd.sock.ttrpc")),
		q(d.path("containerd-debug.sock")), q(d.path("containerd/opt")))
	if err := os.WriteFile(d.path("containerd.toml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	return os.WriteFile(d.path("daemon.json"), []byte("{}\n"), 0o644)
}

func (d *Docker) start(ctx context.Context) error {
	_, containerd, _ := dockerBinaries()
	d.containerd = &daemonProc{name: "containerd", bin: containerd, args: []string{"--config", d.path("containerd.toml")},
		log: d.path("containerd.log"), socket: d.path("containerd.sock"), logf: d.logf}
	if err := d.containerd.start(ctx, nil, func(ctx context.Context) error { return dialUnix(d.path("containerd.sock")) }); err != nil {
		return err
	}
	return d.startDockerd(ctx)
}

func (d *Docker) startDockerd(ctx context.Context) error {
	dockerd, _, _ := dockerBinaries()
	args := []string{
		"--config-file", d.path("daemon.json"),
		"--host", d.Host,
		"--data-root", d.path("data"),
		"--exec-root", d.path("exec"),
		"--pidfile", d.path("docker.pid"),
		"--containerd", d.path("containerd.sock"),
		"--storage-driver", "overlay2",
		// No host networking changes: no docker0 bridge, no iptables rules, no IP forwarding.
		"--bridge", "none", "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false",
	}
	for _, r := range d.opts.InsecureRegistries {
		args = append(args, "--insecure-registry", r)
	}
	path := os.Getenv("PATH")
	if len(d.opts.PathPrepend) > 0 {
		path = strings.Join(d.opts.PathPrepend, string(os.PathListSeparator)) + string(os.PathListSeparator) + path
	}
	// dockerd finds runc, containerd-shim-runc-v2 and docker-init on PATH; the sbin dirs may be
	// missing from a test's PATH.
	path += ":/usr/local/sbin:/usr/sbin:/sbin"
	keyExisted := exists("/etc/docker/key.json")
	d.dockerd = &daemonProc{name: "dockerd", bin: dockerd, args: args, log: d.Log(), socket: d.path("docker.sock"), logf: d.logf}
	env := []string{"PATH=" + path}
	if err := d.dockerd.start(ctx, env, d.ping); err != nil {
		return err
	}
	if !keyExisted {
		_ = os.Remove("/etc/docker/key.json") // ours: dockerd has read it; leave the machine as it was
	}
	return nil
}

// ping asks dockerd for its version with the docker CLI when there is one (the way the tests talk
// to it), else over its socket.
func (d *Docker) ping(ctx context.Context) error {
	if err := dialUnix(d.path("docker.sock")); err != nil {
		return err
	}
	bin, err := exec.LookPath("docker")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version", "--format", "{{.Server.Version}}")
	cmd.Env = d.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker version: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// daemonProc is one daemon process (containerd, dockerd) with its log file; it runs in its own
// process group and gets SIGTERM if the test process dies.
type daemonProc struct {
	name, bin string
	args      []string
	log       string
	socket    string // removed before start (a stale socket from a killed run)
	logf      func(string, ...any)

	cmd  *exec.Cmd
	done chan struct{}
	werr error
}

func (p *daemonProc) pid() int {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
		return p.cmd.Process.Pid
	}
}

// start runs the daemon with extraEnv added and waits until ready answers.
func (p *daemonProc) start(ctx context.Context, extraEnv []string, ready func(context.Context) error) error {
	if p.pid() != 0 {
		return nil
	}
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "---- testenv: starting %s %s at %s\n", p.bin, strings.Join(p.args, " "), time.Now().Format(time.RFC3339))
	_ = os.Remove(p.socket)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.werr = cmd, make(chan struct{}), nil
	done := p.done
	go func() { p.werr = cmd.Wait(); close(done) }()

	started := time.Now()
	deadline := time.NewTimer(dockerStartTimeout)
	defer deadline.Stop()
	var lastErr error
	for {
		if lastErr = ready(ctx); lastErr == nil {
			p.logf("testenv: %s (pid %d) ready in %s", p.name, cmd.Process.Pid, time.Since(started).Round(time.Millisecond))
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited during startup (%v); last lines of %s:\n%s", p.name, p.werr, p.log, fileTail(p.log, 25))
		case <-ctx.Done():
			_ = p.stop()
			return fmt.Errorf("waiting for %s: %w; last lines of %s:\n%s", p.name, ctx.Err(), p.log, fileTail(p.log, 25))
		case <-deadline.C:
			_ = p.stop()
			return fmt.Errorf("%s did not answer within %s (%v); last lines of %s:\n%s", p.name, dockerStartTimeout, lastErr, p.log, fileTail(p.log, 25))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits, then SIGKILLs the daemon's process group.
func (p *daemonProc) stop() error {
	if p.pid() == 0 {
		return nil
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
		p.logf("testenv: %s (pid %d) stopped", p.name, pid)
		return nil
	case <-time.After(dockerStopTimeout):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
		p.logf("testenv: %s (pid %d) killed after %s", p.name, pid, dockerStopTimeout)
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pid)
	}
}

func dialUnix(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(data), n)
}

// FakeNVIDIAHook writes a stand-in for the NVIDIA Container Toolkit's prestart hook into a new
// directory under dir and returns that directory (for DockerOptions.PathPrepend or Restart). With
// it on dockerd's PATH, `docker run --gpus all` is accepted: dockerd sets NVIDIA_VISIBLE_DEVICES
// and runs the hook before the container starts. The stand-in passes no GPU in; it appends to
// logFile one line per call: "prestart <NVIDIA_* variables of the container>".
func FakeNVIDIAHook(dir, logFile string) (string, error) {
	bin, err := os.MkdirTemp(dir, "fake-nvidia-toolkit-")
	if err != nil {
		return "", err
	}
	script := `#!/bin/sh
# A stand-in for the NVIDIA Container Toolkit's hook (internal/testenv): it passes no GPU in.
# runc gives it the container state on stdin; the bundle's config.json holds the container's env.
state=$(cat)
bundle=$(printf '%s' "$state" | sed -n 's/.*"bundle": *"\([^"]*\)".*/\1/p')
vars=$(grep -o 'NVIDIA_[A-Z_]*=[^"]*' "$bundle/config.json" 2>/dev/null | sort | tr '\n' ' ')
echo "$* $vars" >> ` + strconv.Quote(logFile) + `
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, NVIDIAHook), []byte(script), 0o755); err != nil {
		return "", err
	}
	return bin, nil
}
