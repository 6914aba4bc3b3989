// Command torchimg builds, tests and publishes a matrix of PyTorch × CUDA × OS images.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes, documented in README.md.
const (
	exitOK           = 0
	exitFailed       = 1 // invalid matrix, failed build/publish, ...
	exitUsage        = 2 // bad flags or arguments
	exitIncompatible = 3 // check: the image will not run here
	exitUnknown      = 4 // check: cannot tell
)

// exitError carries an exit code; its message (if any) is printed once by run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runApp(ctx, newApp(stdin, stdout, stderr), args)
}

// runApp runs one command line on app and returns its exit status.
func runApp(ctx context.Context, app *app, args []string) int {
	stderr := app.err
	root := app.rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsage(err) {
		code = exitUsage
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "torchimg: %s\n", msg)
		if code == exitUsage {
			fmt.Fprintf(stderr, "Run 'torchimg --help' for usage.\n")
		}
	}
	return code
}
