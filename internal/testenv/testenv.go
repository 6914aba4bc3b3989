// Package testenv starts the real parts the end-to-end tests run against, all on 127.0.0.1 and in
// temporary directories: a buildkitd (OCI worker, runc, overlayfs) on its own unix socket, an
// in-process OCI registry (go-containerregistry pkg/registry) holding a Debian base image with
// Python, and a PEP 503 package index serving fixture wheels (a fake torch, see
// testdata/fixture-torch). Nothing listens on a default socket or port, and everything started is
// stopped by Close.
//
// On request an Env also serves a real torch (RealTorchImage: Debian 12's python3-torch, a CPU
// build) and starts a Docker engine of its own (StartDocker, NewDocker: Debian's docker.io).
//
// Prerequisites (runc, mmdebstrap, docker.io, a buildkitd binary, the base rootfs and the
// real-torch rootfs) are prepared by hack/prereqs.sh; Start and RealTorchImage also build the
// last three into the cache dir when they are missing.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/internal/buildkit"
)

// BaseImageRepo and BaseImageTag name the base image in the test registry.
const (
	BaseImageRepo = "torchimg-test/debian-python"
	BaseImageTag  = "bookworm"
)

// Options configure Start. The zero value is usable.
type Options struct {
	CacheDir     string // default DefaultCacheDir()
	RegistryPort int    // 0 = pick a free port (fixed for the life of the Env; buildkitd's config names it)
	IndexPort    int    // 0 = pick a free port
	// Middleware wraps the registry handler (tests count requests, inject faults). Requests from
	// buildkitd and from test code go through it; the base image push inside Start does not.
	Middleware func(http.Handler) http.Handler
	// CDISpecs are written (file name -> CDI spec YAML) into CDIDir before buildkitd starts.
	CDISpecs map[string]string
	Logf     func(format string, args ...any) // optional (t.Logf)
}

// Env is a running test environment. Fields are read-only.
type Env struct {
	BuilderAddr  string // "unix:///<tempdir>/buildkitd.sock"
	RegistryHost string // "127.0.0.1:PORT"
	BaseImage    string // "127.0.0.1:PORT/torchimg-test/debian-python:bookworm"
	IndexURL     string // "http://127.0.0.1:PORT2/simple"
	CDIDir       string // buildkitd's CDI spec dir
	Index        *Index

	logf      func(string, ...any)
	cacheDir  string
	reg       http.Handler // the registry without Middleware (pushes of prepared images)
	dir       string       // temp dir holding everything below
	torch     realTorch
	dockers   []*Docker // guarded by builderMu
	builder   *builder
	builderMu sync.Mutex
	servers   []*http.Server
	closeOnce sync.Once
	closeErr  error
}

// Start prepares the prerequisites, starts the registry, the index and buildkitd (waiting until it
// answers Info), and pushes the base image. On error everything already started is stopped.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	runc, err := findRunc()
	if err != nil {
		return nil, err
	}
	bkd, rootfs, err := ensurePrereqs(ctx, cacheDir, logf)
	if err != nil {
		return nil, err
	}
	img, err := ensureBaseImage(ctx, cacheDir, rootfs, logf)
	if err != nil {
		return nil, err
	}

	removeStaleEnvs(logf)
	dir, err := os.MkdirTemp(shortTempDir(), envDirPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	e := &Env{logf: logf, cacheDir: cacheDir, dir: dir, CDIDir: filepath.Join(dir, "cdi")}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()

	// Registry.
	regLn, err := listen(opts.RegistryPort, "registry")
	if err != nil {
		return nil, err
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	e.reg = reg
	var regHandler http.Handler = reg
	if opts.Middleware != nil {
		regHandler = opts.Middleware(reg)
	}
	e.serve(regLn, regHandler)
	e.RegistryHost = regLn.Addr().String()
	e.BaseImage = e.RegistryHost + "/" + BaseImageRepo + ":" + BaseImageTag

	// Package index.
	ixLn, err := listen(opts.IndexPort, "package index")
	if err != nil {
		return nil, err
	}
	e.Index = newIndex("http://" + ixLn.Addr().String())
	e.serve(ixLn, e.Index)
	e.IndexURL = e.Index.URL()

	// Base image, pushed past the middleware so a fault-injecting test still gets an Env.
	ref, err := name.ParseReference(e.BaseImage)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithTransport(handlerTransport{reg})); err != nil {
		return nil, fmt.Errorf("push base image %s: %w", e.BaseImage, err)
	}
	logf("testenv: pushed base image %s in %s", e.BaseImage, time.Since(start).Round(time.Millisecond))

	// buildkitd.
	if err := os.MkdirAll(e.CDIDir, 0o755); err != nil {
		return nil, err
	}
	for file, spec := range opts.CDISpecs {
		if file == "" || strings.ContainsAny(file, `/\`) || file[0] == '.' {
			return nil, fmt.Errorf("CDI spec file name %q: want a plain name like fake-gpu.yaml", file)
		}
		if err := os.WriteFile(filepath.Join(e.CDIDir, file), []byte(spec), 0o644); err != nil {
			return nil, err
		}
	}
	e.builder = &builder{
		bin: bkd, runc: runc, dir: dir, registryHost: e.RegistryHost, cdiDir: e.CDIDir, logf: logf,
	}
	e.BuilderAddr = e.builder.addr()
	if err := e.builder.writeConfig(); err != nil {
		return nil, err
	}
	if err := e.builder.start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// New is Start for tests: it fails the test with a clear message and closes the Env in t.Cleanup.
// It skips only under -short (`make unit`, `go test -short`), which promises no daemon; a full run
// never skips.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: starts buildkitd and a registry (run without -short: make test)")
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	e, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: cannot start the end-to-end environment (run hack/prereqs.sh as root to prepare it): %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("testenv: close: %v", err)
		}
	})
	return e
}

// StopBuilder stops buildkitd only (for tests of "no builder running"). Its state dir is kept, so
// RestartBuilder brings it back with its cache.
func (e *Env) StopBuilder() error {
	e.builderMu.Lock()
	defer e.builderMu.Unlock()
	if e.builder == nil {
		return nil
	}
	return e.builder.stop()
}

// RestartBuilder stops buildkitd if it runs and starts it again on the same socket, config and
// state dir (its cache survives), waiting until it answers.
func (e *Env) RestartBuilder(ctx context.Context) error {
	e.builderMu.Lock()
	defer e.builderMu.Unlock()
	if e.builder == nil {
		return errors.New("testenv: no builder")
	}
	if err := e.builder.stop(); err != nil {
		return err
	}
	return e.builder.start(ctx)
}

// ResetBuilder replaces buildkitd with a fresh one: the same socket and config, an empty state
// dir (no cache, no images), as a new CI machine would have.
func (e *Env) ResetBuilder(ctx context.Context) error {
	e.builderMu.Lock()
	defer e.builderMu.Unlock()
	if e.builder == nil {
		return errors.New("testenv: no builder")
	}
	if err := e.builder.stop(); err != nil {
		return err
	}
	if err := removeState(filepath.Join(e.dir, "root")); err != nil {
		return fmt.Errorf("testenv: remove buildkitd state: %w", err)
	}
	return e.builder.start(ctx)
}

// BuilderPID is buildkitd's process id, or 0 when it is not running.
func (e *Env) BuilderPID() int {
	e.builderMu.Lock()
	defer e.builderMu.Unlock()
	if e.builder == nil {
		return 0
	}
	return e.builder.pid()
}

// BuilderLog is the path of buildkitd's log file (valid until Close).
func (e *Env) BuilderLog() string { return filepath.Join(e.dir, "buildkitd.log") }

// Dir is the Env's temporary directory (removed by Close).
func (e *Env) Dir() string { return e.dir }

// Close stops buildkitd (SIGTERM, then SIGKILL to its process group after a timeout), unmounts and
// removes its state dir (best effort), and stops the servers. It is safe to call more than once.
func (e *Env) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		e.builderMu.Lock()
		for _, d := range e.dockers {
			if err := d.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if e.builder != nil {
			if err := e.builder.stop(); err != nil {
				errs = append(errs, err)
			}
		}
		e.builderMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, s := range e.servers {
			if err := s.Shutdown(ctx); err != nil {
				_ = s.Close()
			}
		}
		cancel()
		if e.dir != "" {
			if err := removeState(e.dir); err != nil {
				errs = append(errs, err)
			}
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

func (e *Env) serve(ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 30 * time.Second}
	e.servers = append(e.servers, s)
	go func() { _ = s.Serve(ln) }()
}

func listen(port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s on 127.0.0.1:%d: %w", what, port, err)
	}
	return ln, nil
}

const (
	envDirPrefix = "torchimg-env-"
	ownerFile    = "owner.pid" // pid of the process that made an Env dir
)

// removeStaleEnvs removes Env dirs left by processes that died without Close (a test binary killed
// by its timeout): their buildkitd got SIGTERM through Pdeathsig, but the state dir stays.
func removeStaleEnvs(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(shortTempDir(), envDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // owner alive (or unknown): not ours to touch
		}
		if _, err := os.Stat(filepath.Join(d, "buildkitd.sock")); err == nil {
			if c, err := net.DialTimeout("unix", filepath.Join(d, "buildkitd.sock"), time.Second); err == nil {
				c.Close()
				continue // a buildkitd still serves it
			}
		}
		if err := removeState(d); err == nil {
			logf("testenv: removed %s left by dead process %d", d, pid)
		}
	}
}

// shortTempDir keeps buildkitd's unix socket path under the 108-byte limit.
func shortTempDir() string {
	if d := os.TempDir(); len(d) < 40 {
		return d
	}
	return "/tmp"
}

// handlerTransport sends requests straight to an http.Handler in this process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	sr := r.Clone(r.Context()) // server-side requests always have a body and a RequestURI
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	sr.RequestURI = r.URL.RequestURI()
	t.h.ServeHTTP(rec, sr)
	_ = sr.Body.Close()
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// AddTorch lists each wheel in the Env's index, failing the test on an error.
func (e *Env) AddTorch(t testing.TB, ws ...TorchWheel) {
	t.Helper()
	for _, w := range ws {
		if err := e.Index.AddTorch(w); err != nil {
			t.Fatal(err)
		}
	}
}

// Daemon connects to the Env's buildkitd; the connection closes when the test ends.
func (e *Env) Daemon(ctx context.Context, t testing.TB) *buildkit.Daemon {
	t.Helper()
	d, err := buildkit.Connect(ctx, e.BuilderAddr, buildkit.TLS{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
