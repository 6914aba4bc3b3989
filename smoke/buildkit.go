package smoke

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/util/entitlements"

	"github.com/torchimg/torchimg/internal/buildkit"

	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
)

// DefaultCDIDevice is the CDI device the BuildKit runner asks for: every NVIDIA GPU, as named
// by the spec `nvidia-ctk cdi generate` writes.
const DefaultCDIDevice = "nvidia.com/gpu=all"

// BuildKit runs the probe on a BuildKit daemon: an LLB exec on the staged image (its config
// applied: ENV, WORKDIR, USER) with a CDI device, no network, the result read back from a
// scratch mount. Nothing is exported. It dials Addr at the first Check or Run (a host without a
// GPU never needs the daemon), unless Client is set.
type BuildKit struct {
	// Addr and TLS name the daemon (default buildkit.DefaultAddr).
	Addr string
	TLS  buildkit.TLS
	// Client is an already connected daemon (the caller closes it).
	Client *client.Client
	// Device is the CDI device name (default DefaultCDIDevice).
	Device string
	// Progress, when set, gets every progress update of the solves (logs, steps).
	Progress func(*client.SolveStatus)

	once   sync.Once
	daemon *buildkit.Daemon
	err    error
}

var (
	_ Runner   = (*BuildKit)(nil)
	_ Checker  = (*BuildKit)(nil)
	_ Selector = (*BuildKit)(nil)
)

// Name implements Runner.
func (b *BuildKit) Name() string { return "buildkit" }

func (b *BuildKit) device() string {
	if b.Device == "" {
		return DefaultCDIDevice
	}
	return b.Device
}

func (b *BuildKit) client(ctx context.Context) (*client.Client, error) {
	if b.Client != nil {
		return b.Client, nil
	}
	b.once.Do(func() { b.daemon, b.err = buildkit.Connect(ctx, b.Addr, b.TLS) })
	if b.err != nil {
		return nil, b.err
	}
	return b.daemon.Client, nil
}

// Close closes the connection the runner dialled itself.
func (b *BuildKit) Close() error {
	if b.daemon != nil {
		return b.daemon.Close()
	}
	return nil
}

// Check implements Checker: a worker of the daemon must have the CDI device.
func (b *BuildKit) Check(ctx context.Context) error {
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return fmt.Errorf("BuildKit: list workers: %w", err)
	}
	var have []string
	for _, w := range ws {
		for _, d := range w.CDIDevices {
			if CDIDeviceMatches(b.device(), d.Name) {
				return nil
			}
			have = append(have, d.Name)
		}
	}
	sort.Strings(have)
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	return fmt.Errorf("the BuildKit daemon has no CDI device %s (it has: %s); where buildkitd runs, "+
		"generate the NVIDIA spec with 'nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml' and restart buildkitd, or name another device with --cdi-device",
		b.device(), list)
}

// CDIDeviceMatches reports whether a device the daemon lists (vendor.com/class=name) serves a
// request: the same name, or the request names the whole class ("vendor.com/class",
// "vendor.com/class=*").
func CDIDeviceMatches(request, listed string) bool {
	if request == listed {
		return true
	}
	kind, dev, hasName := strings.Cut(request, "=")
	lkind, _, _ := strings.Cut(listed, "=")
	return (!hasName || dev == "*") && kind == lkind
}

// Selects implements Selector: the image must be in a registry the daemon can pull from.
func (b *BuildKit) Selects(t Target) (bool, string) {
	if t.Ref == "" {
		return false, "the image was not pushed to a staging repository (build with --stage)"
	}
	return true, ""
}

const (
	probeDir = "/torchimg-probe"
	outDir   = "/torchimg-out"
	// probeOut is where the probe writes its findings in the out mount.
	probeOut = "/probe.json"
)

// probeCommand runs probe.py with the image's python (python, else python3).
func probeCommand(args ...string) []string {
	return append([]string{"/bin/sh", "-c", `p=$(command -v python || command -v python3) && exec "$p" ` + probeDir + `/probe.py "$@"`, "probe"}, args...)
}

// InImage runs args in st with the probe script mounted at /torchimg-probe (read-only), no
// network, and a scratch mount at /torchimg-out, whose contents are the returned state. The
// rootfs changes of the run are thrown away: nothing of it reaches an exported image.
func InImage(st llb.State, args []string, env map[string]string, opts ...llb.RunOption) llb.State {
	script := llb.Scratch().File(llb.Mkfile("/probe.py", 0o644, probe.Script), llb.WithCustomName("probe script"))
	all := []llb.RunOption{llb.Args(args), llb.AddMount(probeDir, script, llb.Readonly), llb.Network(llb.NetModeNone)}
	all = append(all, buildkit.Env(env)...)
	return st.Run(append(all, opts...)...).AddMount(outDir, llb.Scratch())
}

// Probe runs the probe in st (InImage) with args; its findings are /probe.json of the result.
func Probe(st llb.State, args []string, opts ...llb.RunOption) llb.State {
	return InImage(st, probeCommand(args...), map[string]string{"TORCHIMG_PROBE_OUT": outDir + probeOut}, opts...)
}

// ReadFindings reads the probe's findings from the result of a Probe solve.
func ReadFindings(ctx context.Context, r *gateway.Result) (*report.Findings, error) {
	ref, err := r.SingleRef()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	b, err := ref.ReadFile(ctx, gateway.ReadRequest{Filename: probeOut})
	if err != nil {
		return nil, fmt.Errorf("probe wrote no result: %w", err)
	}
	return probe.ParseFindings(b)
}

// Run implements Runner.
func (b *BuildKit) Run(ctx context.Context, t Target) (*report.Findings, error) {
	files, logs, err := b.exec(ctx, t.Ref, "GPU probe "+t.ID+" ("+b.device()+")", func(st llb.State, opts ...llb.RunOption) llb.State {
		return Probe(st, append([]string{"--gpu"}, t.ProbeArgs...), opts...)
	}, probeOut)
	if err != nil {
		return nil, err
	}
	f, err := probe.ParseFindings(files[probeOut])
	if err != nil {
		return nil, fmt.Errorf("%w; output:\n%s", err, tail(logs, 20))
	}
	return f, nil
}

// Exec runs a command in an image on the daemon with the runner's CDI device, as Run runs the
// probe, and returns its combined output and exit status. A non-zero status is not an error.
// (The in-image self-check test uses it to run the image's entrypoint.)
func (b *BuildKit) Exec(ctx context.Context, ref string, args ...string) (output []byte, exitCode int, err error) {
	if len(args) == 0 {
		return nil, 0, errors.New("exec: no command")
	}
	wrapped := append([]string{"/bin/sh", "-c", `"$@" >` + outDir + `/output 2>&1; echo $? >` + outDir + `/status`, "exec"}, args...)
	files, _, err := b.exec(ctx, ref, "exec "+strings.Join(args, " "), func(st llb.State, opts ...llb.RunOption) llb.State {
		return InImage(st, wrapped, nil, opts...)
	}, "/output", "/status")
	if err != nil {
		return nil, 0, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(files["/status"])))
	if err != nil {
		return files["/output"], 0, fmt.Errorf("exec: exit status %q: %w", files["/status"], err)
	}
	return files["/output"], code, nil
}

// exec solves one exec (made by run) in ref with the CDI device and reads the named files back
// from its out mount.
func (b *BuildKit) exec(ctx context.Context, ref, name string, run func(llb.State, ...llb.RunOption) llb.State, read ...string) (map[string][]byte, string, error) {
	c, err := b.client(ctx)
	if err != nil {
		return nil, "", err
	}
	status := make(chan *client.SolveStatus)
	logsDone := make(chan string, 1)
	go func() {
		var sb strings.Builder
		for s := range status {
			for _, l := range s.Logs {
				sb.Write(l.Data)
			}
			if b.Progress != nil {
				b.Progress(s)
			}
		}
		logsDone <- sb.String()
	}()
	opt := client.SolveOpt{
		// A CDI device that its spec does not auto-allow needs the device entitlement.
		AllowedEntitlements: []string{entitlements.EntitlementDevice.String()},
		Session:             []session.Attachable{buildkit.Auth()},
	}
	files := map[string][]byte{}
	_, err = c.Build(ctx, opt, "torchimg-smoke", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		// The meta resolver applies the image config (ENV such as PATH and the NVIDIA_*
		// variables, WORKDIR, USER), which llb.Image alone does not.
		out := run(llb.Image(ref, llb.WithMetaResolver(gc)), llb.IgnoreCache,
			llb.AddCDIDevice(llb.CDIDeviceName(b.device())), llb.WithCustomName(name))
		def, err := out.Marshal(ctx)
		if err != nil {
			return nil, err
		}
		r, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB(), Evaluate: true})
		if err != nil {
			return nil, err
		}
		rr, err := r.SingleRef()
		if err != nil {
			return nil, err
		}
		for _, f := range read {
			data, err := rr.ReadFile(ctx, gateway.ReadRequest{Filename: f})
			if err != nil {
				return nil, fmt.Errorf("the command wrote no %s: %w", f, err)
			}
			files[f] = data
		}
		return gateway.NewResult(), nil
	}, status)
	logs := <-logsDone
	if err != nil {
		msg := buildkit.CleanError(err)
		if t := tail(logs, 20); t != "" {
			msg += "; output:\n" + t
		}
		return nil, logs, fmt.Errorf("%s on %s: %s", name, ref, msg)
	}
	return files, logs, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
