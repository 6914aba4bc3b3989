package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

const (
	builderStartTimeout = 2 * time.Minute
	builderStopTimeout  = 20 * time.Second
)

// builder is one buildkitd process with its config, socket, log and state under dir.
type builder struct {
	bin, runc, dir, registryHost, cdiDir string
	logf                                 func(string, ...any)

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	werr error
}

func (b *builder) addr() string       { return "unix://" + filepath.Join(b.dir, "buildkitd.sock") }
func (b *builder) configPath() string { return filepath.Join(b.dir, "buildkitd.toml") }
func (b *builder) logPath() string    { return filepath.Join(b.dir, "buildkitd.log") }

func (b *builder) pid() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	select {
	case <-b.done:
		return 0
	default:
		return b.cmd.Process.Pid
	}
}

// writeConfig writes buildkitd.toml. Every path buildkitd would otherwise default to a system
// location (root, grpc socket, OTEL socket, CDI dirs) points into dir. Network mode is set to host
// explicitly: the OCI worker's "auto" uses CNI when /etc/buildkit/cni.json exists, and build
// containers must reach the package index on 127.0.0.1.
func (b *builder) writeConfig() error {
	q := strconv.Quote // TOML basic strings accept Go's quoting for these plain paths
	cfg := fmt.Sprintf(`# buildkitd for torchimg's end-to-end tests (internal/testenv)
root = %s

[log]
  format = "text"

[grpc]
  address = [%s]

[otel]
  socketPath = %s

[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  networkMode = "host"
  binary = %s
  platforms = ["linux/amd64"]

[worker.containerd]
  enabled = false

[registry.%s]
  http = true
  insecure = true

[cdi]
  specDirs = [%s]
`, q(filepath.Join(b.dir, "root")), q(b.addr()), q(filepath.Join(b.dir, "otel-grpc.sock")), q(b.runc),
		q(b.registryHost), q(b.cdiDir))
	return os.WriteFile(b.configPath(), []byte(cfg), 0o644)
}

// start runs buildkitd and waits until it answers Info and has a worker.
func (b *builder) start(ctx context.Context) error {
	if b.pid() != 0 {
		return nil
	}
	logFile, err := os.OpenFile(b.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own copy
	fmt.Fprintf(logFile, "---- testenv: starting %s --config %s at %s\n", b.bin, b.configPath(), time.Now().Format(time.RFC3339))
	_ = os.Remove(strings.TrimPrefix(b.addr(), "unix://"))
	cmd := exec.Command(b.bin, "--config", b.configPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(b.runc)+":"+os.Getenv("PATH"))
	// Own process group: a terminal's Ctrl-C reaches our process, which stops buildkitd in order.
	// Pdeathsig: if the test process dies, buildkitd gets SIGTERM instead of living on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start buildkitd: %w", err)
	}
	b.cmd, b.done, b.werr = cmd, make(chan struct{}), nil
	done := b.done
	go func() { b.werr = cmd.Wait(); close(done) }()

	started := time.Now()
	deadline := time.NewTimer(builderStartTimeout)
	defer deadline.Stop()
	var lastErr error
	for {
		if lastErr = b.ping(ctx); lastErr == nil {
			b.logf("testenv: buildkitd (pid %d) ready at %s in %s", cmd.Process.Pid, b.addr(), time.Since(started).Round(time.Millisecond))
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("buildkitd exited during startup (%v); last lines of %s:\n%s", b.werr, b.logPath(), b.logTail(25))
		case <-ctx.Done():
			_ = b.stop()
			return fmt.Errorf("waiting for buildkitd: %w; last lines of %s:\n%s", ctx.Err(), b.logPath(), b.logTail(25))
		case <-deadline.C:
			_ = b.stop()
			return fmt.Errorf("buildkitd did not answer within %s (%v); last lines of %s:\n%s", builderStartTimeout, lastErr, b.logPath(), b.logTail(25))
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func (b *builder) ping(ctx context.Context) error {
	if _, err := os.Stat(strings.TrimPrefix(b.addr(), "unix://")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := client.New(ctx, b.addr())
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Info(ctx); err != nil {
		return err
	}
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return errors.New("buildkitd has no worker yet")
	}
	return nil
}

// stop sends SIGTERM, waits, then SIGKILLs buildkitd's process group (it and any runc left over).
func (b *builder) stop() error {
	if b.cmd == nil || b.cmd.Process == nil {
		return nil
	}
	select {
	case <-b.done:
		return nil
	default:
	}
	pid := b.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-b.done:
		b.logf("testenv: buildkitd (pid %d) stopped", pid)
		return nil
	case <-time.After(builderStopTimeout):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-b.done:
		b.logf("testenv: buildkitd (pid %d) killed after %s", pid, builderStopTimeout)
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("buildkitd (pid %d) did not exit after SIGKILL", pid)
	}
}

func (b *builder) logTail(n int) string {
	data, err := os.ReadFile(b.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(string(data), n)
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for space ...) of /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeState unmounts whatever is still mounted below dir (lazily) and removes it.
func removeState(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range mps {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// findRunc locates runc, which buildkitd's OCI worker needs.
func findRunc() (string, error) {
	if p, err := exec.LookPath("runc"); err == nil {
		return filepath.Abs(p)
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("runc is not installed (buildkitd's OCI worker needs it): run hack/prereqs.sh or apt-get install runc")
}
