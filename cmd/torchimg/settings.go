package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/build"
	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/publish"
	"github.com/torchimg/torchimg/smoke"
)

// This file is where flags (and their TORCHIMG_* variables and settings-file keys) become the
// option structs of the library: each setting is read here, once.

var smokeRunners = []string{"buildkit", "docker", "host"}

// addRegistryFlags registers the flags of registry access (once, for commands that combine
// the flag sets of several stages).
func addRegistryFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	if fs.Lookup("retries") == nil {
		fs.Int("retries", registry.DefaultRetries, "retries per registry request on 408/429/5xx and dropped connections (exponential backoff, Retry-After honoured)")
	}
	if fs.Lookup("insecure-registry") == nil {
		fs.Bool("insecure-registry", false, "allow plain HTTP to registries (always on for 127.0.0.1, localhost and private addresses)")
	}
}

// registry is the registry client of this command.
func (a *app) registry() (*registry.Client, error) {
	retries := a.v.GetInt("retries")
	if retries == 0 {
		retries = -1 // --retries 0: no retry (Options.Retries 0 is the default)
	}
	return registry.New(registry.Options{Retries: retries, Insecure: a.v.GetBool("insecure-registry")})
}

func addBuilderFlags(cmd *cobra.Command, usage string) {
	fs := cmd.Flags()
	if fs.Lookup("builder") != nil {
		return
	}
	fs.StringSlice("builder", []string{buildkit.DefaultAddr}, usage)
	fs.String("tls-ca", "", "CA certificate for tcp:// builders")
	fs.String("tls-cert", "", "client certificate for tcp:// builders")
	fs.String("tls-key", "", "client key for tcp:// builders")
	fs.String("tls-server-name", "", "server name to verify for tcp:// builders")
}

func (a *app) builders() ([]string, buildkit.TLS) {
	addrs := splitList(a.v.GetStringSlice("builder"))
	if len(addrs) == 0 {
		addrs = []string{buildkit.DefaultAddr}
	}
	return addrs, buildkit.TLS{CA: a.v.GetString("tls-ca"), Cert: a.v.GetString("tls-cert"), Key: a.v.GetString("tls-key"),
		ServerName: a.v.GetString("tls-server-name")}
}

func addBuildFlags(cmd *cobra.Command) {
	addBuilderFlags(cmd, "BuildKit daemon address (repeatable): unix://, tcp://, docker-container://, kube-pod://")
	fs := cmd.Flags()
	fs.String("stage", "", "staging repository: push each passing image there by digest (tag = variant id)")
	fs.String("oci-dir", filepath.Join("dist", "oci"), "without --stage: write each image as an OCI layout into DIR/<variant id>")
	fs.Int("jobs", 4, "builds at once")
	fs.StringArray("cache-from", nil, "registry cache to import (repeatable): type=registry,ref=REPO:TAG; {id} = variant id")
	fs.StringArray("cache-to", nil, "registry cache to export (repeatable): type=registry,ref=REPO:TAG,mode=max; {id} = variant id")
	fs.String("progress", "auto", "progress output: "+strings.Join(build.ProgressModes, ", "))
	fs.String("report", "", "write the build report (JSON) to this file")
	fs.String("revision", "", "source revision for the build report and the release record, never the image (default: $GITHUB_SHA or the git commit of the matrix)")
	fs.Int64("source-date-epoch", -1, "timestamp of every file and of `created` (default: $SOURCE_DATE_EPOCH, else each base image's creation time)")
	fs.Bool("no-cache", false, "do not use the daemon's build cache")
	fs.Bool("rebuild", false, "build every variant, even when an image with the same inputs is in the staging or release repository")
	fs.StringArray("secret", nil, "a secret for the build's secret mounts (repeatable): id=netrc,src=FILE gives pip a netrc for private indexes; never in the image")
	fs.Bool("update-lock", false, "resolve the lock file again (torchimg lock) before building from it")
	addLockFlags(fs)
	addRegistryFlags(cmd)
}

// buildOptions reads the build flags; a bad value is a usage error before anything starts.
func (a *app) buildOptions(rc *registry.Client) (build.RunOptions, error) {
	mode := a.v.GetString("progress")
	if !slices.Contains(build.ProgressModes, mode) {
		return build.RunOptions{}, usageErrorf("--progress %q: valid modes are %s", mode, strings.Join(build.ProgressModes, ", "))
	}
	jobs := a.v.GetInt("jobs")
	if jobs < 1 {
		return build.RunOptions{}, usageErrorf("--jobs must be at least 1")
	}
	secrets, err := build.ParseSecrets(a.v.GetStringSlice("secret"))
	if err != nil {
		return build.RunOptions{}, usageErrorf("%w", err)
	}
	addrs, tls := a.builders()
	return build.RunOptions{
		Builders: addrs, TLS: tls, Secrets: secrets,
		Output: build.Output{StageRepo: a.v.GetString("stage"), OCIDir: a.v.GetString("oci-dir"), Insecure: a.v.GetBool("insecure-registry")},
		Cache:  build.Cache{From: cacheSpecs(a.v.GetStringSlice("cache-from")), To: cacheSpecs(a.v.GetStringSlice("cache-to"))},
		Jobs:   jobs, Epoch: a.sourceDateEpoch(), Revision: a.revision(), NoCache: a.v.GetBool("no-cache"), Rebuild: a.v.GetBool("rebuild"),
		Progress: a.err, ProgressMode: mode, Registry: rc, Log: a.log,
	}, nil
}

func addPublishFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.String("registry", "", "release repository (default: the repository of the build reports)")
	fs.StringSlice("smoke", nil, "GPU smoke report (repeatable): failed or required-but-not-passed variants are not published")
	fs.Bool("force", false, "move immutable tags that point to another image")
	fs.Bool("dry-run", false, "show what would be created, moved and left; change nothing")
	fs.String("record", "", "write the release record (JSON) here")
	fs.String("record-md", "", "write the release record (Markdown) here; it also goes to $GITHUB_STEP_SUMMARY when set")
	fs.Duration("lease-wait", publish.DefaultLeaseWait, "how long to wait for another publish's lease on the release repository (tag "+publish.LeaseTag+") before failing; 0 fails at once")
	addRegistryFlags(cmd)
}

func (a *app) publishOptions(rc *registry.Client) publish.RunOptions {
	wait := a.v.GetDuration("lease-wait")
	if wait == 0 {
		wait = -1 // do not wait
	}
	return publish.RunOptions{Repository: a.v.GetString("registry"), Client: rc, Force: a.v.GetBool("force"),
		DryRun: a.v.GetBool("dry-run"), Lease: publish.LeaseOptions{Wait: wait}, Log: a.log}
}

// addSmokeFlags registers the flags smokeOptions reads. The builder and TLS flags are added
// only when the command does not have them yet (release registers them with addBuildFlags).
func addSmokeFlags(cmd *cobra.Command) {
	addRegistryFlags(cmd)
	addBuilderFlags(cmd, "BuildKit daemon address for the buildkit runner (the first one is used)")
	fs := cmd.Flags()
	fs.String("gpu", string(smoke.ModeAuto), "GPU smoke tests: auto (where this host can), on (required: an untestable variant fails), off")
	fs.String("runner", "buildkit", "how to run the probe: "+strings.Join(smokeRunners, ", "))
	fs.String("cdi-device", smoke.DefaultCDIDevice, "buildkit runner: the CDI device that passes the GPUs in")
	fs.String("python", "", "host runner: the Python to run the probe with (default python3 on PATH)")
}

// smokeOptions reads the smoke flags. close releases the runner (the BuildKit runner dials its
// daemon at the first variant that gets that far).
func (a *app) smokeOptions(rc *registry.Client) (o *smoke.Options, close func(), err error) {
	mode, err := smoke.ParseMode(a.v.GetString("gpu"))
	if err != nil {
		return nil, nil, usageErrorf("%w", err)
	}
	o = &smoke.Options{Mode: mode, Host: a.hostSource(), ImageEnv: smoke.RegistryEnv(rc),
		Logf: func(format string, args ...any) { a.log.Info(fmt.Sprintf(format, args...)) }}
	close = func() {}
	switch r := a.v.GetString("runner"); r {
	case "buildkit":
		addrs, tls := a.builders()
		bk := &smoke.BuildKit{Addr: addrs[0], TLS: tls, Device: a.v.GetString("cdi-device")}
		o.Runner, close = bk, func() { bk.Close() }
	case "docker":
		o.Runner = &smoke.Docker{}
	case "host":
		o.Runner = &smoke.Host{Python: a.v.GetString("python")}
	default:
		return nil, nil, usageErrorf("--runner %q: valid runners are %s", r, strings.Join(smokeRunners, ", "))
	}
	return o, close, nil
}

// splitList accepts repeated flags and comma- or space-separated environment values.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// cacheSpecs keeps "k=v,k=v" specs whole (they contain commas).
func cacheSpecs(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (a *app) revision() string {
	if r := a.v.GetString("revision"); r != "" {
		return r
	}
	if r := os.Getenv("GITHUB_SHA"); r != "" {
		return r
	}
	dir := filepath.Dir(a.v.GetString("file"))
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// sourceDateEpoch is --source-date-epoch, else $SOURCE_DATE_EPOCH, else each base image's
// creation time: an input of the variant itself, where the matrix file's commit time would
// change every image on any edit.
func (a *app) sourceDateEpoch() fingerprint.Epoch {
	if n := a.v.GetInt64("source-date-epoch"); n >= 0 {
		return fingerprint.Epoch(n)
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return fingerprint.Epoch(n)
		}
	}
	return fingerprint.FromBase
}
