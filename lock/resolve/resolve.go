// Package resolve finds the exact inputs of a variant for its lock: the base image's digest
// for the variant's platform (through the registry) and every wheel pip would install, by
// running pip itself (`pip install --dry-run --report`) on a BuildKit daemon in the variant's
// own Python environment — the Dockerfile's python stage, built from the variant's rendered
// context — so that environment markers, the Python version and the indexes are pip's to judge.
package resolve

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/tonistiigi/fsutil"

	"github.com/torchimg/torchimg/fingerprint"
	"github.com/torchimg/torchimg/internal/buildkit"
	"github.com/torchimg/torchimg/lock"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/pyindex"
	"github.com/torchimg/torchimg/templates"
)

// Resolver resolves variants on one BuildKit daemon.
type Resolver struct {
	Daemon  *buildkit.Daemon
	Secrets []secretsprovider.Source
	// WorkDir holds the rendered contexts (a temporary directory by default).
	WorkDir string
}

const outDir = "/torchimg-lock"

// script runs pip's resolver twice without installing anything: for torch from its index, and
// for the extras (constrained to that torch, which pip may take from the torch index too); each
// writes pip's installation report.
const script = `set -eu
pip install --dry-run --quiet --report ` + outDir + `/torch.json --index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"
if [ -n "$TORCHIMG_EXTRAS" ]; then
  printf 'torch==%s\n' "$TORCH_VERSION" > /tmp/torchimg-constraints.txt
  set -f
  pip install --dry-run --quiet --report ` + outDir + `/extras.json ${TORCHIMG_PIP_INDEX_URL:+--index-url "$TORCHIMG_PIP_INDEX_URL"} \
    --extra-index-url "$TORCH_INDEX_URL" --constraint /tmp/torchimg-constraints.txt "torch==$TORCH_VERSION" $TORCHIMG_EXTRAS
fi
`

// Variant resolves one variant whose context and base were resolved (fingerprint.Resolve).
func (r *Resolver) Variant(ctx context.Context, p *matrix.Plan, rv *fingerprint.Variant, base fingerprint.Base) (lock.Variant, error) {
	v := rv.Variant
	out := lock.Variant{ID: v.ID, Request: lock.RequestOf(v)}
	img := base.PlatformDigest()
	if img == "" {
		return out, fmt.Errorf("%s: the base image %s was not resolved", v.ID, v.Base)
	}
	out.Base = lock.Base{Ref: v.Base, Digest: img, Platform: "linux/amd64"}
	wheels, err := r.wheels(ctx, rv, out.Base.Pinned())
	if err != nil {
		return out, fmt.Errorf("%s: resolve its wheels: %w", v.ID, err)
	}
	out.Wheels = wheels
	return out, nil
}

func (r *Resolver) wheels(ctx context.Context, rv *fingerprint.Variant, pinned string) ([]lock.Wheel, error) {
	v := rv.Variant
	dir, err := os.MkdirTemp(r.WorkDir, "lock-"+v.ID+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := rv.Context.WriteDir(dir); err != nil {
		return nil, err
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return nil, err
	}
	store, err := secretsprovider.NewStore(r.Secrets)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	attrs := map[string]string{"filename": "Dockerfile", "target": templates.PythonStage, "build-arg:BASE_IMAGE": pinned}
	for k, val := range v.BuildArgs {
		attrs["build-arg:"+k] = val
	}
	env := map[string]string{
		"TORCH_VERSION":          v.Torch + "+" + v.TorchVariant,
		"TORCH_INDEX_URL":        v.IndexURL,
		"TORCHIMG_PIP_INDEX_URL": v.PipIndexURL,
		"TORCHIMG_EXTRAS":        strings.Join(templates.ExtraInstalls(v), " "),
	}
	opt := client.SolveOpt{
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Session:       []session.Attachable{buildkit.Auth(), secretsprovider.NewSecretProvider(store)},
	}
	var reports map[string][]byte
	_, err = r.Daemon.Client.Build(ctx, opt, "torchimg-lock", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		res, err := gc.Solve(ctx, gateway.SolveRequest{Frontend: "dockerfile.v0", FrontendOpt: attrs})
		if err != nil {
			return nil, fmt.Errorf("the Dockerfile's %s stage: %w", templates.PythonStage, err)
		}
		ref, err := res.SingleRef()
		if err != nil {
			return nil, err
		}
		st, err := ref.ToState()
		if err != nil {
			return nil, err
		}
		if cfg, ok := res.Metadata[exptypes.ExporterImageConfigKey]; ok {
			if st, err = st.WithImageConfig(cfg); err != nil {
				return nil, err
			}
		}
		opts := []llb.RunOption{llb.Args([]string{"/bin/sh", "-c", script}), llb.WithCustomName("pip install --dry-run --report (lock " + v.ID + ")"),
			llb.AddMount("/root/.cache/pip", llb.Scratch(), llb.AsPersistentCacheDir(templates.PipCacheID, llb.CacheMountLocked)),
			llb.AddSecret("/root/.netrc", llb.SecretID(templates.SecretNetrc), llb.SecretOptional)}
		opts = append(opts, buildkit.Env(env)...)
		run := st.Run(opts...)
		outSt := run.AddMount(outDir, llb.Scratch())
		def, err := outSt.Marshal(ctx, llb.LinuxAmd64)
		if err != nil {
			return nil, err
		}
		pr, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, fmt.Errorf("pip could not resolve: %s", buildkit.CleanError(err))
		}
		pref, err := pr.SingleRef()
		if err != nil {
			return nil, err
		}
		reports = map[string][]byte{}
		for _, f := range []string{"/torch.json", "/extras.json"} {
			b, err := pref.ReadFile(ctx, gateway.ReadRequest{Filename: f})
			if err == nil {
				reports[f] = b
			}
		}
		return gateway.NewResult(), nil
	}, nil)
	if err != nil {
		return nil, err
	}
	torch, err := ParseReport(reports["/torch.json"], lock.StepTorch)
	if err != nil {
		return nil, fmt.Errorf("pip's report of the torch step: %w", err)
	}
	wheels := torch
	if b, ok := reports["/extras.json"]; ok {
		extras, err := ParseReport(b, lock.StepExtras)
		if err != nil {
			return nil, fmt.Errorf("pip's report of the extras step: %w", err)
		}
		have := map[string]bool{}
		for _, w := range torch {
			have[w.Name] = true
		}
		for _, w := range extras {
			if !have[w.Name] {
				wheels = append(wheels, w)
			}
		}
	}
	return wheels, nil
}

// report is the part of pip's installation report (pip >= 22.2, format version 1) the lock reads.
type report struct {
	Version string `json:"version"`
	Install []struct {
		DownloadInfo struct {
			URL         string `json:"url"`
			ArchiveInfo *struct {
				Hash   string            `json:"hash"`
				Hashes map[string]string `json:"hashes"`
			} `json:"archive_info"`
		} `json:"download_info"`
		Metadata struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"metadata"`
	} `json:"install"`
}

// ParseReport reads pip's installation report into the wheels of one step.
func ParseReport(b []byte, step string) ([]lock.Wheel, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("pip wrote no report")
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a pip installation report: %w", err)
	}
	if r.Version != "1" {
		return nil, fmt.Errorf("pip report version %q; torchimg reads version 1 (pip 22.2 or newer)", r.Version)
	}
	var out []lock.Wheel
	for _, it := range r.Install {
		name := pyindex.NormalizeName(it.Metadata.Name)
		ai := it.DownloadInfo.ArchiveInfo
		if ai == nil {
			return nil, fmt.Errorf("%s comes from %s, not from an index archive: it cannot be locked", name, it.DownloadInfo.URL)
		}
		h := ai.Hashes["sha256"]
		if h == "" {
			if alg, val, ok := strings.Cut(ai.Hash, "="); ok && alg == "sha256" {
				h = val
			}
		}
		if h == "" {
			return nil, fmt.Errorf("%s %s: pip reports no sha256 for %s (the index serves no hash)", name, it.Metadata.Version, it.DownloadInfo.URL)
		}
		url, _, _ := strings.Cut(it.DownloadInfo.URL, "#")
		out = append(out, lock.Wheel{Name: name, Version: it.Metadata.Version, Step: step, URL: url, SHA256: strings.ToLower(h)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lock resolves the variants vs of plan p: their entries are new, the entries of old for
// variants of p outside vs are kept (a partial refresh), entries of variants p lacks are
// dropped. Nothing is returned when any variant fails: a lock is never half resolved.
func (r *Resolver) Lock(ctx context.Context, reg *fingerprint.Resolver, p *matrix.Plan, vs []*matrix.Variant, old *lock.File, matrixName string) (*lock.File, error) {
	rvs, err := fingerprint.Resolve(ctx, reg, p, vs, fingerprint.FromBase)
	if err != nil {
		return nil, err
	}
	f := &lock.File{Matrix: matrixName}
	var errs []string
	for _, rv := range rvs {
		switch {
		case rv.RenderErr != nil:
			errs = append(errs, rv.RenderErr.Error())
			continue
		case rv.BaseErr != nil:
			errs = append(errs, fmt.Sprintf("%s: resolve base %s: %v", rv.Variant.ID, rv.Variant.Base, rv.BaseErr))
			continue
		}
		if f.Torchimg == "" {
			f.Torchimg = fmt.Sprintf("recipe %d, probe %s", rv.Inputs.Recipe, rv.Inputs.Probe)
		}
		base, err := reg.Base(ctx, rv.Variant.Base)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		e, err := r.Variant(ctx, p, rv, base)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		f.Variants = append(f.Variants, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("lock: %d of %d variant(s) could not be resolved (the lock file is unchanged):\n  %s", len(errs), len(vs), strings.Join(errs, "\n  "))
	}
	if old != nil {
		in := map[string]bool{}
		for _, v := range vs {
			in[v.ID] = true
		}
		for _, v := range p.Variants {
			if e, ok := old.Of(v.ID); ok && !in[v.ID] {
				f.Variants = append(f.Variants, *e)
			}
		}
	}
	return f, nil
}
