package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/lock"
	"github.com/torchimg/torchimg/lock/resolve"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/pyindex"
)

func (a *app) lockCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Write matrix.lock: every variant's base image digest and exact wheels, or check that it is current",
		Long: `lock resolves every variant of the matrix and writes the lock file beside it (matrix.yaml →
matrix.lock): the base image's digest for the variant's platform, read from its registry, and every
wheel pip installs — torch and its dependencies from the variant's index, then the extras — with name,
version, URL and sha256. The wheels are resolved by pip itself (pip install --dry-run --report) in the
variant's own Python environment: the Dockerfile's python stage, built on a BuildKit daemon (--builder).
The file is sorted and stable, so a change is a reviewable diff. torchimg build then uses it: FROM the
locked digest, and pip install --require-hashes --no-deps of exactly the locked files.

lock --check changes nothing and needs no daemon. It exits 1 when the lock is stale: a variant missing
from it or changed since (base, torch, Python, indexes, extras), a base tag that now names another
image, or a locked wheel its index no longer serves with the same sha256.

Exit status: 0 written (or current), 1 stale or could not be resolved (the file is then unchanged), 2 usage.`,
		Example: `  torchimg lock --builder unix:///run/buildkit/buildkitd.sock
  torchimg lock -f examples/offline/matrix.yaml --builder tcp://buildkitd:1234
  torchimg lock --check                      # in CI: exit 1 when the lock is stale
  torchimg lock --check -o json`,
		Args: matrixArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := a.registry()
			if err != nil {
				return err
			}
			if a.v.GetBool("check") {
				return a.lockCheck(cmd.Context(), rc)
			}
			secrets, err := build.ParseSecrets(a.v.GetStringSlice("secret"))
			if err != nil {
				return usageErrorf("%w", err)
			}
			addrs, tls := a.builders()
			return a.updateLock(cmd.Context(), rc, build.RunOptions{Builders: addrs, TLS: tls, Secrets: secrets})
		},
	}
	fs := cmd.Flags()
	addMatrixFlag(fs)
	fs.Bool("check", false, "exit 1 when the lock is stale (needs no BuildKit daemon); change nothing")
	fs.StringP("output", "o", "table", "with --check: table or json")
	addBuilderFlags(cmd, "BuildKit daemon address that resolves the wheels (the first one is used)")
	fs.StringArray("secret", nil, "a secret for pip (id=netrc,src=FILE), as for torchimg build")
	fs.String("lock", "", "the lock file (default: beside the matrix, matrix.yaml → matrix.lock)")
	addRegistryFlags(cmd)
	return cmd
}

// addLockFlags registers how a command that reads the matrix finds its lock file.
func addLockFlags(fs *pflag.FlagSet) {
	fs.String("lock", "", "the lock file (default: beside the matrix, matrix.yaml → matrix.lock, used when it exists)")
	fs.Bool("no-lock", false, "ignore the lock file: resolve the base tags and wheels now")
}

// lockPath is the lock file of the command's matrix.
func (a *app) lockPath() (path string, explicit bool) {
	if p := a.v.GetString("lock"); p != "" {
		return p, true
	}
	return lock.PathFor(a.v.GetString("file")), false
}

// useLock makes the selected variants build from the lock file, when the command reads one
// (it has --no-lock) and there is one.
func (a *app) useLock(p *matrix.Plan, vs []*matrix.Variant) error {
	if a.cmd == nil || a.cmd.Flags().Lookup("no-lock") == nil || a.v.GetBool("no-lock") {
		return nil
	}
	path, explicit := a.lockPath()
	f, err := lock.Read(path)
	switch {
	case errors.Is(err, lock.ErrNotExist) && !explicit:
		return nil
	case err != nil:
		return &exitError{code: exitFailed, err: err}
	}
	if err := f.Apply(vs, p.Variants); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	a.lockUsed = f
	a.log.Info("building from the lock file", "lock", path, "variants", len(vs))
	return nil
}

// updateLock resolves every variant of the matrix and writes the lock file.
func (a *app) updateLock(ctx context.Context, rc *registry.Client, o build.RunOptions) error {
	file := a.v.GetString("file")
	p, err := a.loadPlan(file)
	if err != nil {
		return err
	}
	path, _ := a.lockPath()
	old, err := lock.Read(path)
	if err != nil && !errors.Is(err, lock.ErrNotExist) {
		return &exitError{code: exitFailed, err: err}
	}
	addr := buildkit.DefaultAddr
	if len(o.Builders) > 0 {
		addr = o.Builders[0]
	}
	d, err := buildkit.Connect(ctx, addr, o.TLS)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer d.Close()
	work, err := os.MkdirTemp("", "torchimg-lock-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	r := &resolve.Resolver{Daemon: d, Secrets: o.Secrets, WorkDir: work}
	f, err := r.Lock(ctx, fingerprint.NewResolver(rc), p, p.Variants, old, filepath.Base(file))
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if err := f.Write(path); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	wheels := 0
	for _, v := range f.Variants {
		wheels += len(v.Wheels)
	}
	fmt.Fprintf(a.err, "locked %d variant(s), %d wheel(s): %s%s\n", len(f.Variants), wheels, path, lockChanges(old, f))
	return nil
}

// lockChanges says which entries a new lock changed.
func lockChanges(old, now *lock.File) string {
	if old == nil {
		return " (new)"
	}
	var changed, added []string
	for _, v := range now.Variants {
		o, ok := old.Of(v.ID)
		switch {
		case !ok:
			added = append(added, v.ID)
		case !sameEntry(*o, v):
			changed = append(changed, v.ID)
		}
	}
	removed := 0
	for _, v := range old.Variants {
		if _, ok := now.Of(v.ID); !ok {
			removed++
		}
	}
	if len(changed)+len(added)+removed == 0 {
		return " (unchanged)"
	}
	return fmt.Sprintf(" (%d changed: %s; %d added; %d removed)", len(changed), strings.Join(changed, ", "), len(added), removed)
}

func sameEntry(a, b lock.Variant) bool { return reflect.DeepEqual(a, b) }

// lockCheck reports the drift of the lock: stale entries, moved bases, changed wheels.
func (a *app) lockCheck(ctx context.Context, rc *registry.Client) error {
	format := a.v.GetString("output")
	if format != "table" && format != "json" {
		return usageErrorf("--output %q: valid formats are table, json", format)
	}
	p, err := a.loadPlan(a.v.GetString("file"))
	if err != nil {
		return err
	}
	path, _ := a.lockPath()
	f, err := lock.Read(path)
	if errors.Is(err, lock.ErrNotExist) {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: no lock file: run torchimg lock", path)}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	moved, notes, err := lockMoved(ctx, rc, f, p.Variants)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	drifts := append(lock.Stale(f, f.Check(p.Variants, p.Variants)), moved...)
	if format == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		if drifts == nil {
			drifts = []lock.Drift{}
		}
		if err := enc.Encode(map[string]any{"lock": path, "current": len(drifts) == 0, "drift": drifts, "notes": notes}); err != nil {
			return err
		}
	} else {
		for _, d := range drifts {
			fmt.Fprintln(a.out, d.Message)
		}
		for _, n := range notes {
			fmt.Fprintln(a.err, "note:", n)
		}
	}
	if len(drifts) > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s is stale: %d drift(s); run torchimg lock (or build --update-lock)", path, len(drifts))}
	}
	if format != "json" {
		fmt.Fprintf(a.out, "%s is current: %d variant(s)\n", path, len(f.Variants))
	}
	return nil
}

// lockMoved is what moved under the lock f for the variants vs (lock.Moved).
func lockMoved(ctx context.Context, rc *registry.Client, f *lock.File, vs []*matrix.Variant) ([]lock.Drift, []string, error) {
	return lock.Moved(ctx, f, vs, fingerprint.NewResolver(rc), &pyindex.Client{UserAgent: registry.UserAgent})
}
