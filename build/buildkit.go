package build

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client"
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer" // docker-container:// builders
	_ "github.com/moby/buildkit/client/connhelper/kubepod"         // kube-pod:// builders
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/tonistiigi/fsutil"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

// DefaultAddr is where buildkitd listens by default.
const DefaultAddr = "unix:///run/buildkit/buildkitd.sock"

// TLS configures a tcp:// builder.
type TLS struct {
	ServerName, CA, Cert, Key string
}

// BuildKit builds variants on one buildkitd.
type BuildKit struct {
	Addr    string
	Version string
	c       *client.Client
	workDir string

	mu    sync.Mutex
	bases map[string]*baseDigest // base image → its digest, resolved once per run
}

type baseDigest struct {
	once   sync.Once
	digest string
	err    error
}

var _ Interface = (*BuildKit)(nil)

// Connect dials a buildkitd and checks that it answers (the client connects lazily, so a
// missing daemon would otherwise only show up in the first build).
func Connect(ctx context.Context, addr string, tls TLS, workDir string) (*BuildKit, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	var opts []client.ClientOpt
	if tls.CA != "" || tls.ServerName != "" {
		opts = append(opts, client.WithServerConfig(tls.ServerName, tls.CA))
	}
	if tls.Cert != "" || tls.Key != "" {
		opts = append(opts, client.WithCredentials(tls.Cert, tls.Key))
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return nil, noDaemon(addr, err)
	}
	ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info, err := c.Info(ictx)
	if err != nil {
		c.Close()
		return nil, noDaemon(addr, err)
	}
	return &BuildKit{Addr: addr, Version: info.BuildkitVersion.Version, c: c, workDir: workDir}, nil
}

// NoDaemonError says that no BuildKit daemon answered, and how to start one.
type NoDaemonError struct {
	Addr string
	Err  error
}

func (e *NoDaemonError) Error() string {
	return fmt.Sprintf("no BuildKit daemon answers at %s (%v).\n"+
		"Start one, then pass its address with --builder or TORCHIMG_BUILDER:\n"+
		"  sudo buildkitd --addr %s                      # a local daemon (needs runc)\n"+
		"  docker buildx create --name torchimg --driver docker-container --bootstrap\n"+
		"    → --builder docker-container://buildx_buildkit_torchimg0\n"+
		"  a remote daemon: --builder tcp://HOST:1234 --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem",
		e.Addr, shortErr(e.Err), DefaultAddr)
}

func (e *NoDaemonError) Unwrap() error { return e.Err }

func noDaemon(addr string, err error) error { return &NoDaemonError{Addr: addr, Err: err} }

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	return s
}

// Close closes the connection.
func (b *BuildKit) Close() error { return b.c.Close() }

// Build implements Interface.
func (b *BuildKit) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	res := newResult(req)
	res.Builder = b.Addr
	status := req.Status
	if status == nil {
		status = make(chan *client.SolveStatus)
		go func() {
			for range status {
			}
		}()
	}
	v := req.Variant

	ctxDir, err := os.MkdirTemp(b.workDir, "ctx-"+v.ID+"-")
	if err != nil {
		close(status)
		return finish(res, report.Failed, report.StageRender, fmt.Errorf("build context for %s: %w", v.ID, err))
	}
	defer os.RemoveAll(ctxDir)
	if err := req.Context.WriteDir(ctxDir); err != nil {
		close(status)
		return finish(res, report.Failed, report.StageRender, err)
	}
	fs, err := fsutil.NewFS(ctxDir)
	if err != nil {
		close(status)
		return finish(res, report.Failed, report.StageRender, fmt.Errorf("build context for %s: %w", v.ID, err))
	}

	// Resolve the base image on the daemon first: its digest pins FROM and is recorded in the
	// labels and annotations (org.opencontainers.image.base.digest).
	var rerr error
	res.BaseDigest, rerr = b.baseDigest(ctx, v)
	if rerr != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("base image %s not pinned by digest: %s", v.Base, shortErr(rerr)))
	}
	opt, err := b.solveOpt(req, fs, res.BaseDigest)
	if err != nil {
		close(status)
		return finish(res, report.Failed, report.StageExport, err)
	}

	var probe *report.Probe
	stage := report.StageSolve
	var solveDone, probeDone time.Time
	resp, err := b.c.Build(ctx, opt, "torchimg", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		fe := maps.Clone(opt.FrontendAttrs)
		r, err := gc.Solve(ctx, gateway.SolveRequest{Frontend: "dockerfile.v0", FrontendOpt: fe, Evaluate: true})
		if err != nil {
			return nil, err
		}
		solveDone = time.Now()
		stage = report.StageProbe
		p, err := runProbe(ctx, gc, r, req)
		probeDone = time.Now()
		if err != nil {
			return nil, err
		}
		probe = p
		if p.Status != report.Passed {
			return nil, fmt.Errorf("the image contradicts its labels: %s", p.Diff())
		}
		stage = report.StageExport
		return r, nil
	}, status)
	if !solveDone.IsZero() {
		res.Timings.Solve = solveDone.Sub(res.Started).Seconds()
	}
	if !probeDone.IsZero() {
		res.Timings.Probe = probeDone.Sub(solveDone).Seconds()
	}
	res.Probe = probe
	if err != nil {
		if req.Output.StageRepo == "" {
			os.RemoveAll(ociDir(req) + ".partial")
		}
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return finish(res, report.Cancelled, stage, fmt.Errorf("%s: cancelled", v.ID))
		}
		return finish(res, report.Failed, stage, fmt.Errorf("%s: %s: %s", v.ID, stage, cleanSolveErr(err)))
	}
	res.Digest = resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	if req.Output.StageRepo != "" {
		res.StagedRef = req.Output.StageRepo + "@" + res.Digest
	} else {
		res.OCIDir = ociDir(req)
		if err := os.RemoveAll(res.OCIDir); err != nil {
			return finish(res, report.Failed, report.StageExport, fmt.Errorf("%s: replace OCI layout: %w", v.ID, err))
		}
		if err := os.Rename(res.OCIDir+".partial", res.OCIDir); err != nil {
			return finish(res, report.Failed, report.StageExport, fmt.Errorf("%s: replace OCI layout: %w", v.ID, err))
		}
	}
	if n, err := imageSize(ctx, res); err == nil {
		res.Size = n
	}
	return finish(res, report.Passed, "", nil)
}

// baseDigest resolves each base image once for all the variants built on it.
func (b *BuildKit) baseDigest(ctx context.Context, v *matrix.Variant) (string, error) {
	b.mu.Lock()
	if b.bases == nil {
		b.bases = map[string]*baseDigest{}
	}
	bd, ok := b.bases[v.Base]
	if !ok {
		bd = &baseDigest{}
		b.bases[v.Base] = bd
	}
	b.mu.Unlock()
	bd.once.Do(func() { bd.digest, bd.err = b.resolveBase(ctx, v) })
	return bd.digest, bd.err
}

// resolveBase asks the daemon for the base image's digest; "" when it cannot (the build
// itself then reports why).
func (b *BuildKit) resolveBase(ctx context.Context, v *matrix.Variant) (string, error) {
	var dgst string
	var rerr error
	opt := client.SolveOpt{Session: []session.Attachable{authSession()}}
	_, err := b.c.Build(ctx, opt, "torchimg-resolve", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		_, d, _, err := gc.ResolveImageConfig(ctx, v.Base, sourceresolver.Opt{
			ImageOpt: &sourceresolver.ResolveImageOpt{ResolveMode: llb.ResolveModeDefault.String()},
		})
		if err == nil {
			dgst = d.String()
		}
		rerr = err
		return gateway.NewResult(), nil
	}, nil)
	if err != nil {
		return "", err
	}
	return dgst, rerr
}

// authSession gives the daemon the credentials of the docker config and credential helpers.
func authSession() session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(os.Stderr)),
	})
}

func tagOf(ref name.Reference) string {
	if t, ok := ref.(name.Tag); ok {
		return t.TagStr()
	}
	return "latest"
}

func ociDir(req Request) string { return filepath.Join(req.Output.OCIDir, req.Variant.ID) }

// solveOpt assembles frontend attributes, exporter, cache and session for one variant.
func (b *BuildKit) solveOpt(req Request, fs fsutil.FS, baseDigest string) (client.SolveOpt, error) {
	v := req.Variant
	created := time.Unix(req.SourceDateEpoch, 0).UTC().Format(time.RFC3339)
	attrs := map[string]string{
		"filename":                    "Dockerfile",
		"build-arg:SOURCE_DATE_EPOCH": strconv.FormatInt(req.SourceDateEpoch, 10),
		"attest:provenance":           "mode=max",
		"label:" + matrix.OCICreated:  created,
	}
	if req.Revision != "" {
		attrs["label:"+matrix.OCIRevision] = req.Revision
	}
	if req.NoCache {
		attrs["no-cache"] = ""
	}
	for k, val := range v.BuildArgs {
		attrs["build-arg:"+k] = val
	}
	if baseDigest != "" {
		attrs["label:"+matrix.OCIBaseDigest] = baseDigest
		if ref, err := name.ParseReference(v.Base); err == nil {
			attrs["build-arg:BASE_IMAGE"] = ref.Context().Name() + ":" + tagOf(ref) + "@" + baseDigest
		}
	}

	exp := map[string]string{"oci-mediatypes": "true"}
	annotations := maps.Clone(v.Labels)
	annotations[matrix.OCICreated] = created
	if baseDigest != "" {
		annotations[matrix.OCIBaseDigest] = baseDigest
	}
	if req.Revision != "" {
		annotations[matrix.OCIRevision] = req.Revision
	}
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		exp["annotation."+k] = annotations[k]
		exp["annotation-index."+k] = annotations[k]
	}
	var entry client.ExportEntry
	switch {
	case req.Output.StageRepo != "":
		repo, err := name.NewRepository(req.Output.StageRepo)
		if err != nil {
			return client.SolveOpt{}, fmt.Errorf("--stage %q: %w", req.Output.StageRepo, err)
		}
		exp["name"] = repo.Name() + ":" + v.ID
		exp["push"] = "true"
		if req.Output.Insecure || isLoopback(repo.RegistryStr()) {
			exp["registry.insecure"] = "true"
		}
		entry = client.ExportEntry{Type: client.ExporterImage, Attrs: exp}
	default:
		// Written next to the layout and swapped in only when the build passed, so a failed
		// build never loses the last good layout.
		dir := ociDir(req) + ".partial"
		if err := os.RemoveAll(dir); err != nil {
			return client.SolveOpt{}, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return client.SolveOpt{}, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		exp["tar"] = "false"
		exp["name"] = req.Plan.Repository + ":" + firstOr(v.ImmutableTags, v.ID)
		entry = client.ExportEntry{Type: client.ExporterOCI, OutputDir: dir, Attrs: exp}
	}

	cacheFrom, err := cacheEntries(req.Cache.From, v.ID, req.Output.Insecure)
	if err != nil {
		return client.SolveOpt{}, err
	}
	cacheTo, err := cacheEntries(req.Cache.To, v.ID, req.Output.Insecure)
	if err != nil {
		return client.SolveOpt{}, err
	}
	return client.SolveOpt{
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports:       []client.ExportEntry{entry},
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Session:       []session.Attachable{authSession()},
	}, nil
}

func firstOr(list []string, d string) string {
	if len(list) > 0 {
		return list[0]
	}
	return d
}

// cacheEntries parses "type=registry,ref=R,mode=max" (or a bare reference) specs.
func cacheEntries(specs []string, id string, insecure bool) ([]client.CacheOptionsEntry, error) {
	var out []client.CacheOptionsEntry
	for _, s := range specs {
		s = strings.ReplaceAll(s, "{id}", id)
		e := client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{}}
		if !strings.Contains(s, "=") {
			e.Attrs["ref"] = s
		} else {
			for _, kv := range strings.Split(s, ",") {
				k, val, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("cache spec %q: want key=value pairs like type=registry,ref=REPO:TAG,mode=max", s)
				}
				if k == "type" {
					e.Type = val
					continue
				}
				e.Attrs[k] = val
			}
		}
		if ref := e.Attrs["ref"]; ref != "" && e.Type == "registry" {
			r, err := name.ParseReference(ref)
			if err != nil {
				return nil, fmt.Errorf("cache ref %q: %w", ref, err)
			}
			if insecure || isLoopback(r.Context().RegistryStr()) {
				e.Attrs["registry.insecure"] = "true"
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runProbe runs the probe inside the solved image (no network) and compares its findings
// with the variant's labels.
func runProbe(ctx context.Context, gc gateway.Client, r *gateway.Result, req Request) (*report.Probe, error) {
	v := req.Variant
	ref, err := r.SingleRef()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	st, err := ref.ToState()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if cfg, ok := r.Metadata[exptypes.ExporterImageConfigKey]; ok {
		if st, err = st.WithImageConfig(cfg); err != nil {
			return nil, fmt.Errorf("probe: image config: %w", err)
		}
	}
	script := llb.Scratch().File(llb.Mkfile("/probe.py", 0o644, smoke.Script), llb.WithCustomName("probe script"))
	args := append([]string{"/bin/sh", "-c", `p=$(command -v python || command -v python3) && exec "$p" /torchimg-probe/probe.py "$@"`, "probe"}, smoke.Args(v)...)
	run := st.Run(
		llb.Args(args),
		llb.AddEnv("TORCHIMG_PROBE_OUT", "/torchimg-out/probe.json"),
		llb.AddMount("/torchimg-probe", script, llb.Readonly),
		llb.Network(llb.NetModeNone),
		llb.WithCustomName(fmt.Sprintf("probe %s: compare the image with its labels", v.ID)),
	)
	out := run.AddMount("/torchimg-out", llb.Scratch())
	def, err := out.Marshal(ctx, llb.LinuxAmd64)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	pr, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, fmt.Errorf("probe could not run in the image: %w", err)
	}
	pref, err := pr.SingleRef()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	b, err := pref.ReadFile(ctx, gateway.ReadRequest{Filename: "/probe.json"})
	if err != nil {
		return nil, fmt.Errorf("probe wrote no result: %w", err)
	}
	f, err := smoke.ParseFindings(b)
	if err != nil {
		return nil, err
	}
	return smoke.Compare(v.Labels, req.Plan.LabelsPrefix, v.ExtraPackages, f), nil
}

// cleanSolveErr shortens BuildKit's error chain to the part a person reads first.
func cleanSolveErr(err error) string {
	s := err.Error()
	for _, p := range []string{"failed to solve: ", "rpc error: code = Unknown desc = "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// Client returns the BuildKit client (for other stages that run containers on the daemon,
// such as the GPU smoke runner).
func (b *BuildKit) Client() *client.Client { return b.c }
