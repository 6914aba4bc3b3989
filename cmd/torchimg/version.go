package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/matrix/compat"
)

// buildkitModule is the module of the BuildKit client torchimg is built with.
const buildkitModule = "github.com/moby/buildkit"

// versionInfo is torchimg version -o json. Every field is always present; "" (false for
// modified) means the binary does not say (built without VCS stamping: go run, go test,
// -buildvcs=false, or outside a checkout).
type versionInfo struct {
	Version  string `json:"version"`  // the module version: v1.2.3, or (devel) for a build from a checkout
	Revision string `json:"revision"` // vcs.revision: the commit it was built from
	Time     string `json:"time"`     // vcs.time: that commit's time (RFC 3339)
	Modified bool   `json:"modified"` // vcs.modified: the checkout had uncommitted changes
	Go       string `json:"go"`       // the Go toolchain
	Platform string `json:"platform"` // GOOS/GOARCH
	BuildKit string `json:"buildkit"` // the github.com/moby/buildkit client module version
	// CompatDataDate is the day the embedded compatibility data was sourced (YYYY-MM-DD).
	CompatDataDate string `json:"compat_data_date"`
}

func (a *app) versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show how torchimg was built (version, commit, Go, BuildKit client) and the date of its compatibility data",
		Long: `version prints how this torchimg binary was built, from the build information Go embeds in it: the
module version ((devel) for a build from a checkout, e.g. make build), the commit it was built from,
that commit's time and whether the checkout had uncommitted changes, the Go version and platform,
the version of the BuildKit client module (github.com/moby/buildkit) it talks to daemons with, and
the date the embedded compatibility data (torch ↔ CUDA ↔ driver ↔ nvidia/cuda tags) was sourced:
a combination released after that date is unknown to this binary.

A binary built without VCS information (go run, go test, -buildvcs=false) has no commit; text output
says "unknown", JSON an empty string.

Formats: table (default), json ({"version", "revision", "time", "modified", "go", "platform",
"buildkit", "compat_data_date"}).

Exit status: 0, 2 usage error.`,
		Example: `  torchimg version
  torchimg version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format := a.v.GetString("output")
			if format != "table" && format != "json" {
				return usageErrorf("--output %q: valid formats are table, json", format)
			}
			info, err := a.version()
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(info)
			}
			return writeVersion(a.out, info)
		},
	}
	cmd.Flags().StringP("output", "o", "table", "output format: table, json")
	return cmd
}

// version collects the build information of this binary and the date of its compatibility data.
func (a *app) version() (versionInfo, error) {
	info := versionInfo{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	db, err := compat.Default()
	if err != nil {
		return info, fmt.Errorf("compatibility data: %w", err)
	}
	info.CompatDataDate = db.DataDate()
	bi, ok := a.buildInfo()
	if !ok || bi == nil {
		return info, nil
	}
	info.Version = bi.Main.Version
	if bi.GoVersion != "" {
		info.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if d.Path != buildkitModule {
			continue
		}
		info.BuildKit = d.Version
		if r := d.Replace; r != nil {
			info.BuildKit = r.Version
			if r.Path != d.Path || r.Version == "" {
				info.BuildKit = fmt.Sprintf("%s (replaced by %s %s)", d.Version, r.Path, r.Version)
			}
		}
	}
	return info, nil
}

func writeVersion(w io.Writer, v versionInfo) error {
	or := func(s, unknown string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	rev := or(v.Revision, "unknown (built without VCS information: go run, go test or -buildvcs=false)")
	if v.Modified {
		rev += " (modified: built with uncommitted changes)"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "torchimg\t%s\n", or(v.Version, "unknown"))
	fmt.Fprintf(tw, "commit\t%s\n", rev)
	fmt.Fprintf(tw, "commit time\t%s\n", or(v.Time, "unknown"))
	fmt.Fprintf(tw, "go\t%s %s\n", v.Go, v.Platform)
	fmt.Fprintf(tw, "buildkit client\t%s\n", or(v.BuildKit, "unknown (not in the build information)"))
	fmt.Fprintf(tw, "compat data\t%s\n", or(v.CompatDataDate, "undated")+" (the facts of "+compat.EmbeddedFile+" as of that day)")
	return tw.Flush()
}
