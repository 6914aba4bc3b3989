package build

import (
	"context"
	"encoding/json"
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

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/internal/redact"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/probe"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/smoke"
)

// BuildKit builds variants on one buildkitd.
type BuildKit struct {
	Daemon   *buildkit.Daemon
	workDir  string
	registry *registry.Client

	mu    sync.Mutex
	bases map[string]*baseDigest // base image → its digest, resolved once per run
}

type baseDigest struct {
	once sync.Once
	base fingerprint.Base
	err  error
}

var _ Interface = (*BuildKit)(nil)

// NewBuildKit builds on a connected daemon; build contexts go into temporary directories under
// workDir, and staged images are read back through c.
func NewBuildKit(d *buildkit.Daemon, workDir string, c *registry.Client) *BuildKit {
	return &BuildKit{Daemon: d, workDir: workDir, registry: c}
}

// Build implements Interface.
func (b *BuildKit) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	res := newResult(req)
	res.Builder = b.Daemon.Addr
	v := req.Variant

	ctxDir, err := os.MkdirTemp(b.workDir, "ctx-"+v.ID+"-")
	if err != nil {
		return finish(res, report.Failed, report.StageRender, fmt.Errorf("build context for %s: %w", v.ID, err))
	}
	defer os.RemoveAll(ctxDir)
	if err := req.Context.WriteDir(ctxDir); err != nil {
		return finish(res, report.Failed, report.StageRender, err)
	}
	fs, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return finish(res, report.Failed, report.StageRender, fmt.Errorf("build context for %s: %w", v.ID, err))
	}

	// The inputs: resolved before the build, or here, with the base image resolved on the daemon.
	// The base digest pins FROM; the inputs are recorded in labels and annotations.
	in := req.Inputs
	if in == nil {
		base, rerr := b.baseDigest(ctx, v)
		if rerr != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("base image %s not pinned by digest: %s", v.Base, buildkit.ShortError(rerr)))
		}
		fin := fingerprint.New(req.Context.Files, v.BuildArgs, base.Digest, req.Epoch.Of(base))
		in = &fin
	}
	res.BaseDigest, res.Inputs = in.BaseDigest, in.Digest()
	opt, err := b.solveOpt(req, fs, *in)
	if err != nil {
		return finish(res, report.Failed, report.StageExport, err)
	}

	var probe *report.Probe
	stage := report.StageSolve
	var solveDone, probeDone time.Time
	// BuildKit closes the status channel when the build returns; the drain runs until then.
	status := make(chan *client.SolveStatus)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for s := range status {
			if req.Progress != nil {
				req.Progress(s)
			}
		}
	}()
	resp, err := b.Daemon.Client.Build(ctx, opt, "torchimg", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
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
	<-drained
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
			return finish(res, report.Cancelled, stage, fmt.Errorf("%s: %w", v.ID, context.Canceled))
		}
		return finish(res, report.Failed, stage, fmt.Errorf("%s: %s: %s", v.ID, stage, redact.Text(buildkit.CleanError(err))))
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
	// What was exported, read back (manifest and config): its size and its platform image.
	at := res.StagedRef
	if at == "" {
		at = "oci:" + res.OCIDir
	}
	if info, err := inspect.Image(ctx, b.registry, at, false); err == nil {
		res.Size, res.ImageDigest = info.Size, info.ImageDigest
	} else {
		res.Notes = append(res.Notes, "image not read back: "+err.Error())
	}
	return finish(res, report.Passed, "", nil)
}

// baseDigest resolves each base image once for all the variants built on it.
func (b *BuildKit) baseDigest(ctx context.Context, v *matrix.Variant) (fingerprint.Base, error) {
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
	bd.once.Do(func() { bd.base, bd.err = b.resolveBase(ctx, v) })
	return bd.base, bd.err
}

// resolveBase asks the daemon for the base image's digest and creation time; none when it
// cannot (the build itself then reports why).
func (b *BuildKit) resolveBase(ctx context.Context, v *matrix.Variant) (fingerprint.Base, error) {
	var base fingerprint.Base
	var rerr error
	opt := client.SolveOpt{Session: []session.Attachable{buildkit.Auth()}}
	_, err := b.Daemon.Client.Build(ctx, opt, "torchimg-resolve", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		_, d, cfg, err := gc.ResolveImageConfig(ctx, v.Base, sourceresolver.Opt{
			ImageOpt: &sourceresolver.ResolveImageOpt{ResolveMode: llb.ResolveModeDefault.String(),
				Platform: &ocispecs.Platform{OS: "linux", Architecture: "amd64"}},
		})
		if err == nil {
			base.Digest = d.String()
			var c struct {
				Created time.Time `json:"created"`
			}
			if json.Unmarshal(cfg, &c) == nil && c.Created.Unix() > 0 {
				base.Created = c.Created.Unix()
			}
		}
		rerr = err
		return gateway.NewResult(), nil
	}, nil)
	if err != nil {
		return fingerprint.Base{}, err
	}
	return base, rerr
}

func tagOf(ref name.Reference) string {
	if t, ok := ref.(name.Tag); ok {
		return t.TagStr()
	}
	// A pinned reference (repo:tag@sha256:..., from the lock file) keeps its tag.
	if before, _, ok := strings.Cut(ref.String(), "@"); ok {
		if t, err := name.NewTag(before); err == nil && strings.Contains(before[strings.LastIndex(before, "/")+1:], ":") {
			return t.TagStr()
		}
	}
	return "latest"
}

func ociDir(req Request) string { return filepath.Join(req.Output.OCIDir, req.Variant.ID) }

// solveOpt assembles frontend attributes, exporter, cache and session for one variant. What
// goes into the image is the rendered context and the inputs: no time, no git commit, no
// matrix-wide revision, so the same inputs give the same image.
func (b *BuildKit) solveOpt(req Request, fs fsutil.FS, in fingerprint.Inputs) (client.SolveOpt, error) {
	v := req.Variant
	recorded := fingerprint.Labels(req.Plan.LabelsPrefix, in)
	if in.BaseDigest == "" {
		delete(recorded, matrix.OCIBaseDigest)
	}
	attrs := map[string]string{
		"filename":                    "Dockerfile",
		"build-arg:SOURCE_DATE_EPOCH": strconv.FormatInt(in.SourceDateEpoch, 10),
		"attest:provenance":           "mode=max",
	}
	for k, val := range recorded {
		attrs["label:"+k] = val
	}
	if req.NoCache {
		attrs["no-cache"] = ""
	}
	for k, val := range v.BuildArgs {
		attrs["build-arg:"+k] = val
	}
	if in.BaseDigest != "" {
		if ref, err := name.ParseReference(v.Base); err == nil {
			attrs["build-arg:BASE_IMAGE"] = ref.Context().Name() + ":" + tagOf(ref) + "@" + in.BaseDigest
		}
	}

	// rewrite-timestamp clamps every file of the new layers to SOURCE_DATE_EPOCH.
	exp := map[string]string{"oci-mediatypes": "true", "rewrite-timestamp": "true"}
	annotations := maps.Clone(v.Labels)
	maps.Copy(annotations, recorded)
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
	// The secrets are read here when a step asks for one; an absent secret leaves its mount out.
	store, err := secretsprovider.NewStore(req.Secrets)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("secrets: %w", err)
	}
	return client.SolveOpt{
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports:       []client.ExportEntry{entry},
		CacheImports:  cacheFrom,
		CacheExports:  cacheTo,
		Session:       []session.Attachable{buildkit.Auth(), secretsprovider.NewSecretProvider(store)},
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

// runProbe runs the probe inside the solved image (no network; nothing of the run reaches the
// exported image) and compares its findings with the variant's labels.
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
	out := smoke.Probe(st, probe.Args(v), llb.WithCustomName(fmt.Sprintf("probe %s: compare the image with its labels", v.ID)))
	def, err := out.Marshal(ctx, llb.LinuxAmd64)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	pr, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, fmt.Errorf("probe could not run in the image: %w", err)
	}
	f, err := smoke.ReadFindings(ctx, pr)
	if err != nil {
		return nil, err
	}
	return probe.Compare(v.Labels, req.Plan.LabelsPrefix, v.ExtraPackages, f), nil
}
