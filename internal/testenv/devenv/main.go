// Command devenv runs a command inside torchimg's end-to-end test environment (internal/testenv):
// a buildkitd on its own socket, a registry holding the Debian+Python base image, and a package
// index with fixture wheels, all on 127.0.0.1. It is how `make demo` runs the real pipeline offline.
//
//	go run ./internal/testenv/devenv [-registry-port 5055] [-index-port 5056] [-wheels FILE.yaml] -- COMMAND ARGS...
//
// COMMAND gets these variables added to its environment:
//
//	TORCHIMG_BUILDER           buildkitd address (unix:///tmp/.../buildkitd.sock)
//	TORCHIMG_TEST_REGISTRY     registry host (127.0.0.1:5055)
//	TORCHIMG_TEST_BASE_IMAGE   base image in that registry
//	TORCHIMG_TEST_INDEX_URL    package index for pip --index-url (http://127.0.0.1:5056/simple)
//
// The wheels file lists fixture torch wheels and plain packages:
//
//	torch:
//	  - {version: 2.9.1+cu128, cuda: "12.8", cudnn: 9.10.2.21, nccl: 2.27.5, archs: "7.0;8.0;9.0;12.0+PTX"}
//	  - {version: 2.9.1+cpu}
//	packages:
//	  - {name: tiny-fixture-pkg, version: 1.0.2}
//
// (A file that is just a list is read as the torch list.) Everything is torn down when COMMAND
// exits or on Ctrl-C/SIGTERM, and devenv exits with COMMAND's exit code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/torchimg/torchimg/internal/testenv"
)

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("devenv", flag.ContinueOnError)
	regPort := fs.Int("registry-port", 5055, "registry port on 127.0.0.1 (0 = any free port)")
	ixPort := fs.Int("index-port", 5056, "package index port on 127.0.0.1 (0 = any free port)")
	wheelsPath := fs.String("wheels", "", "YAML file listing fixture wheels (torch: [...], packages: [...])")
	cacheDir := fs.String("cache", "", "cache dir (default $TORCHIMG_CACHE or ~/.cache/torchimg)")
	quiet := fs.Bool("q", false, "do not log environment setup")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: devenv [flags] -- COMMAND ARGS...\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	args := fs.Args()
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "devenv: "+format+"\n", a...) }
	quietf := logf
	if *quiet {
		quietf = func(string, ...any) {}
	}

	wheels := &testenv.WheelsFile{}
	if *wheelsPath != "" {
		var err error
		if wheels, err = testenv.ReadWheelsFile(*wheelsPath); err != nil {
			logf("%v", err)
			return 2
		}
	}

	// Signals: catch them from the start so teardown always runs. COMMAND is in our process group
	// and gets a terminal's Ctrl-C itself; a SIGTERM sent to us alone is passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel() // interrupts setup; once COMMAND runs, the loop below takes over
		case <-ctx.Done():
		}
	}()

	start := time.Now()
	env, err := testenv.Start(ctx, testenv.Options{
		CacheDir: *cacheDir, RegistryPort: *regPort, IndexPort: *ixPort,
		Logf: func(format string, a ...any) { quietf(format, a...) },
	})
	if err != nil {
		if ctx.Err() != nil {
			logf("interrupted during setup: %v", err)
			return 130
		}
		logf("cannot start the environment (run hack/prereqs.sh as root first): %v", err)
		return 1
	}
	defer func() {
		if err := env.Close(); err != nil {
			logf("teardown: %v", err)
		}
	}()
	if err := env.Index.AddAll(wheels); err != nil {
		logf("%s: %v", *wheelsPath, err)
		return 2
	}
	quietf("ready in %s: builder %s, registry %s, base image %s, index %s (%d torch wheels, %d packages)",
		time.Since(start).Round(time.Millisecond), env.BuilderAddr, env.RegistryHost, env.BaseImage, env.IndexURL,
		len(wheels.Torch), len(wheels.Packages))
	if ctx.Err() != nil {
		return 130
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"TORCHIMG_BUILDER="+env.BuilderAddr,
		"TORCHIMG_TEST_REGISTRY="+env.RegistryHost,
		"TORCHIMG_TEST_BASE_IMAGE="+env.BaseImage,
		"TORCHIMG_TEST_INDEX_URL="+env.IndexURL,
	)
	// The setup-time watcher must not swallow signals meant for COMMAND.
	cancel()
	if err := cmd.Start(); err != nil {
		logf("%v", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var received int
	for {
		select {
		case sig := <-sigs:
			received++
			switch {
			case received == 1:
				// A terminal's Ctrl-C already reached COMMAND (same process group); pass on anything else.
				if sig != os.Interrupt {
					_ = cmd.Process.Signal(sig)
				}
				logf("got %v, waiting for %s to exit (again to kill it)", sig, args[0])
			default:
				_ = cmd.Process.Kill()
			}
		case err := <-done:
			return exitCode(err)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}
