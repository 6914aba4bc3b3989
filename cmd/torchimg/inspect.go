package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
)

func (a *app) inspectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show what an image contains, from its labels, without pulling it",
		Long: `inspect reads an image's manifest and config (never its layers) from a registry, or from an OCI
image layout (a directory with index.json, or oci:DIR), and shows torch, CUDA, cuDNN, NCCL, Python,
OS, flavor, driver requirements, GPU architectures, creation time and revision, and every tag of the
repository that points to the same digest. For an image torchimg did not build, it says so and
shows the standard labels and CUDA environment it does have.`,
		Example: `  torchimg inspect ghcr.io/torchimg/pytorch-cuda:2.9-cu128
  torchimg inspect dist/oci/2.9.1-cu128-py3.12-runtime-ubuntu24.04 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := a.v.GetString("output")
			if format != "table" && format != "json" {
				return usageErrorf("--output %q: valid formats are table, json", format)
			}
			if err := localImageProblem(args[0]); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			rc, err := a.registry()
			if err != nil {
				return err
			}
			info, err := inspect.Image(cmd.Context(), rc, args[0], !a.v.GetBool("no-tags"))
			if err != nil && info == nil {
				return &exitError{code: exitFailed, err: dockerHubHint(rc, args[0], err)}
			}
			if err != nil {
				fmt.Fprintf(a.err, "warning: %v\n", err)
			}
			if format == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return inspect.WriteTable(a.out, info)
		},
	}
	cmd.Flags().StringP("output", "o", "table", "output format: table, json")
	cmd.Flags().Bool("no-tags", false, "do not list the repository's tags that point to the image")
	addRegistryFlags(cmd)
	return cmd
}

// layoutHint is what an IMAGE argument may be, for errors about one that is neither.
const layoutHint = "an OCI layout is a directory with index.json; a registry reference looks like host/repo:tag"

// localImageProblem says plainly what is wrong with an IMAGE argument that names a local path
// but not an OCI layout: a path that does not exist, a directory without index.json, a file.
// A registry reference (ghcr.io/acme/img:tag, localhost:5000/repo:tag, 127.0.0.1:5055/x:y,
// nvidia/cuda:12.8.1-base-ubuntu24.04) gives nil and is read from its registry.
func localImageProblem(ref string) error {
	path := ref
	if dir, ok := inspect.IsLayout(ref); ok {
		if !strings.HasPrefix(ref, "oci:") {
			return nil // a directory with index.json
		}
		path = dir
	} else if !pathLike(ref) {
		return nil
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("no such OCI layout: %s (%s)", path, layoutHint)
	case !st.IsDir():
		return fmt.Errorf("%s: a file, not an OCI layout (%s; unpack an OCI archive with tar -xf first)", path, layoutHint)
	}
	if st, err := os.Stat(filepath.Join(path, "index.json")); err == nil && !st.IsDir() {
		return nil
	}
	if s := suggestLayouts(path); s != "" {
		return fmt.Errorf("%s: a directory without index.json, not an OCI layout (did you mean %s?)", path, s)
	}
	return fmt.Errorf("%s: a directory without index.json, not an OCI layout (%s)", path, layoutHint)
}

// pathLike reports whether an IMAGE argument that is not an OCI layout names a local path:
// it starts with /, ./, ../ or ~, or it has no registry host (no "." or ":" in its first
// component, not localhost) and its first component exists here (dist/oci/x with a dist/
// directory; image.tar). A name with no registry host that is not on this disk is a Docker Hub
// reference (ubuntu:24.04, nvidia/cuda:12.8.1-base-ubuntu24.04).
func pathLike(ref string) bool {
	switch {
	case ref == "." || ref == ".." || ref == "~":
		return true
	case strings.HasPrefix(ref, "/"), strings.HasPrefix(ref, "./"), strings.HasPrefix(ref, "../"), strings.HasPrefix(ref, "~/"):
		return true
	case filepath.Separator != '/' && strings.ContainsRune(ref, filepath.Separator):
		return true
	}
	first, _, nested := strings.Cut(ref, "/")
	if nested && registryHost(first) {
		return false
	}
	_, err := os.Stat(first)
	return err == nil
}

// registryHost reports whether the first component of a reference is a registry host, as the
// docker CLI decides: it has a "." or ":", or it is localhost.
func registryHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// suggestLayouts names the OCI layouts directly inside dir (at most three).
func suggestLayouts(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var found []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(filepath.Join(p, "index.json")); err == nil && e.IsDir() && !st.IsDir() {
			found = append(found, p)
		}
	}
	return orList(found)
}

// dockerHubHint adds, to the error of a reference that may have been meant as a path (a "/",
// no registry host, no tag or digest: dist/oci/x where there is no dist/), how it was read.
func dockerHubHint(rc *registry.Client, ref string, err error) error {
	first, rest, nested := strings.Cut(ref, "/")
	if !nested || registryHost(first) || strings.ContainsAny(rest, ":@") || strings.HasPrefix(ref, "oci:") {
		return err
	}
	r, perr := rc.Ref(ref)
	if perr != nil {
		return err
	}
	return fmt.Errorf("%w (there is no OCI layout %s here, so it was read as the registry reference %s)", err, ref, r.Name())
}
