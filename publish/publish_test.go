package publish

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/internal/registry"
	"github.com/torchimg/torchimg/report"
)

// reg is a real registry on 127.0.0.1 with request counting and fault injection.
type reg struct {
	host    string
	uploads atomic.Int64 // blob upload starts (POST .../blobs/uploads/)
	puts    atomic.Int64 // manifest PUTs
	faults  atomic.Int64 // per-mille of requests that fail
	mu      sync.Mutex
	rnd     *rand.Rand
	failed  map[string]int // faults so far per request (method and path): at most maxFaults each
	block   atomic.Pointer[func(*http.Request) bool]
}

// maxFaults bounds how often one request (method and path) fails: faults are transient, as
// they are on a real registry, so a publish retried often enough must converge whatever order
// the requests come in. Without the bound, an unlucky order under load failed one operation's
// every retry in each of 5 publishes.
const maxFaults = 2

func newReg(t *testing.T) *reg {
	r := &reg{rnd: rand.New(rand.NewSource(1)), failed: map[string]int{}}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if b := r.block.Load(); b != nil && (*b)(q) {
			http.Error(w, "blocked", http.StatusServiceUnavailable)
			return
		}
		if f := r.faults.Load(); f > 0 {
			r.mu.Lock()
			n := r.rnd.Int63n(1000)
			kind := r.rnd.Intn(3)
			key := q.Method + " " + q.URL.Path
			fail := n < f && r.failed[key] < maxFaults
			if fail {
				r.failed[key]++
			}
			r.mu.Unlock()
			if fail {
				switch kind {
				case 0:
					http.Error(w, "flaky", http.StatusInternalServerError)
				case 1:
					http.Error(w, "slow down", http.StatusTooManyRequests)
				default:
					if hj, ok := w.(http.Hijacker); ok {
						if c, _, err := hj.Hijack(); err == nil {
							if tc, ok := c.(*net.TCPConn); ok {
								tc.SetLinger(0) // RST
							}
							c.Close()
							return
						}
					}
					http.Error(w, "reset", http.StatusBadGateway)
				}
				return
			}
		}
		if q.Method == http.MethodPost && strings.Contains(q.URL.Path, "/blobs/uploads") {
			r.uploads.Add(1)
		}
		if q.Method == http.MethodPut && strings.Contains(q.URL.Path, "/manifests/") && !strings.HasSuffix(q.URL.Path, "/manifests/"+LeaseTag) {
			r.puts.Add(1) // the release's manifests (not the lease's)
		}
		h.ServeHTTP(w, q)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *reg) reset() { r.uploads.Store(0); r.puts.Store(0) }

// fast is a registry client with quick retries.
func fast(t *testing.T) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.Options{RetryBase: 5 * time.Millisecond, Retries: 8})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stageVariant pushes a small image index (one image + labels) to the staging repo, as a build would.
func stageVariant(t *testing.T, r *reg, id string, labels map[string]string) *report.BuildEntry {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Labels = labels
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, _ := name.ParseReference(r.host + "/stage/images:" + id)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return &report.BuildEntry{ID: id, Status: report.Passed, Digest: d.String(), StagedRef: ref.Context().Name() + "@" + d.String(), Labels: labels}
}

type fixture struct {
	reg     *reg
	repo    string
	reports []*report.Build
	byID    map[string]*report.BuildEntry
}

func newFixture(t *testing.T) *fixture {
	r := newReg(t)
	f := &fixture{reg: r, repo: r.host + "/release/pytorch", byID: map[string]*report.BuildEntry{}}
	rep := &report.Build{Schema: report.BuildSchema, Repository: f.repo, LabelsPrefix: "io.torchimg", MatrixRevision: "abc"}
	for i, v := range []struct {
		id       string
		floating []string
	}{
		{"2.9.1-cu126", []string{"2.9-cu126"}},
		{"2.9.1-cu128", []string{"2.9-cu128", "2.9", "latest"}},
		{"2.10.0-cu128", []string{"2.10-cu128"}},
	} {
		labels := map[string]string{"io.torchimg.schema-version": "1", "io.torchimg.torch.version": strings.Split(v.id, "-")[0], "io.torchimg.variant": v.id, "n": fmt.Sprint(i)}
		res := stageVariant(t, r, v.id, labels)
		res.ImmutableTags = []string{v.id + "-full"}
		res.FloatingTags = v.floating
		rep.Variants = append(rep.Variants, res)
		f.byID[v.id] = res
	}
	rep.Plan = planOf(rep.Variants)
	f.reports = []*report.Build{rep}
	return f
}

func (f *fixture) publish(t *testing.T, ctx context.Context, p *Publisher) (*Result, error) {
	t.Helper()
	rel, err := NewRelease(f.reports, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil {
		p = &Publisher{}
	}
	if p.Client == nil {
		p.Client = fast(t)
	}
	if p.Lease == (LeaseOptions{}) {
		p.Lease = fastLease
	}
	return p.Publish(ctx, rel, f.repo)
}

// fastLease keeps the lease's settle and poll short for tests.
var fastLease = LeaseOptions{Settle: 50 * time.Millisecond, Poll: 20 * time.Millisecond, Wait: 20 * time.Second}

// state is tag → digest of the release repository.
func (f *fixture) state(t *testing.T) map[string]string {
	t.Helper()
	repo, _ := name.NewRepository(f.repo)
	tags, err := remote.List(repo)
	out := map[string]string{}
	if registry.IsNotFound(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags {
		if tg == LeaseTag {
			continue
		}
		d, err := remote.Head(repo.Tag(tg))
		if err != nil {
			t.Fatal(err)
		}
		out[tg] = d.Digest.String()
	}
	return out
}

func TestPublishTwiceIsANoOp(t *testing.T) {
	f := newFixture(t)
	res, err := f.publish(t, context.Background(), nil)
	if err != nil || res.Failed() {
		t.Fatalf("publish: %v %+v", err, res)
	}
	st := f.state(t)
	if st["latest"] != f.byID["2.9.1-cu128"].Digest || st["2.10.0-cu128-full"] != f.byID["2.10.0-cu128"].Digest || len(st) != 8 {
		t.Fatalf("state after publish: %v", st)
	}
	if len(res.Verified) != 3 {
		t.Errorf("labels verified for %v", res.Verified)
	}
	f.reg.reset()
	res2, err := f.publish(t, context.Background(), nil)
	if err != nil || res2.Failed() {
		t.Fatal(err, res2.Errors)
	}
	if u, p := f.reg.uploads.Load(), f.reg.puts.Load(); u != 0 || p != 0 {
		t.Errorf("second publish uploaded %d blobs and put %d manifests, want none", u, p)
	}
	for _, a := range res2.Actions {
		if a.Op != report.OpUnchanged {
			t.Errorf("second publish: %+v", a)
		}
	}
}

func TestImmutableConflict(t *testing.T) {
	f := newFixture(t)
	// Someone else's image already holds an immutable tag.
	other := stageVariant(t, f.reg, "intruder", map[string]string{"io.torchimg.variant": "intruder"})
	repo, _ := name.NewRepository(f.repo)
	src, _ := name.ParseReference(other.StagedRef)
	d, _ := remote.Get(src)
	idx, _ := d.ImageIndex()
	if err := remote.WriteIndex(repo.Tag("2.9.1-cu128-full"), idx); err != nil {
		t.Fatal(err)
	}
	before := f.state(t)
	res, err := f.publish(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || !strings.Contains(strings.Join(res.Errors, "\n"), "immutable tag "+f.repo+":2.9.1-cu128-full points to "+other.Digest+", not to "+f.byID["2.9.1-cu128"].Digest) {
		t.Fatalf("want a conflict naming the tag and both digests: %v", res.Errors)
	}
	after := f.state(t)
	if after["2.9.1-cu128-full"] != before["2.9.1-cu128-full"] {
		t.Error("the conflicting tag moved")
	}
	for _, fl := range []string{"2.9", "latest", "2.9-cu126", "2.10-cu128"} {
		if _, ok := after[fl]; ok {
			t.Errorf("floating tag %s was set despite the conflict", fl)
		}
	}
	// --force moves it, and the release completes.
	res, err = f.publish(t, context.Background(), &Publisher{Force: true})
	if err != nil || res.Failed() {
		t.Fatal(err, res.Errors)
	}
	if got := f.state(t)["2.9.1-cu128-full"]; got != f.byID["2.9.1-cu128"].Digest {
		t.Errorf("--force did not move the tag: %s", got)
	}
}

func TestFailedVariantHoldsFloatingTags(t *testing.T) {
	f := newFixture(t)
	bad := f.byID["2.10.0-cu128"]
	bad.Status, bad.Error = report.Failed, "probe mismatch"
	res, err := f.publish(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := f.state(t)
	if _, ok := st["2.10.0-cu128-full"]; ok {
		t.Error("the failed variant's immutable tag was published")
	}
	for _, tg := range []string{"2.9.1-cu126-full", "2.9.1-cu128-full"} {
		if _, ok := st[tg]; !ok {
			t.Errorf("immutable tag %s of a passing variant was not published", tg)
		}
	}
	for _, tg := range []string{"2.9-cu126", "2.9", "latest", "2.10-cu128"} {
		if _, ok := st[tg]; ok {
			t.Errorf("floating tag %s moved although a variant failed", tg)
		}
	}
	if !res.Failed() || !strings.Contains(res.FloatingHeld, "2.10.0-cu128") {
		t.Errorf("floating held: %q", res.FloatingHeld)
	}
}

func TestCancelledPublishConverges(t *testing.T) {
	want := func() map[string]string {
		f := newFixture(t)
		if _, err := f.publish(t, context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		return f.variants(t, f.state(t))
	}()
	f := newFixture(t)
	// Cancel as soon as the first immutable tag is written.
	ctx, cancel := context.WithCancel(context.Background())
	block := func(q *http.Request) bool {
		if q.Method == http.MethodPut && strings.Contains(q.URL.Path, "/manifests/") && strings.HasSuffix(q.URL.Path, "-full") {
			cancel()
		}
		return false
	}
	f.reg.block.Store(&block)
	_, err := f.publish(t, ctx, nil)
	f.reg.block.Store(nil)
	if err == nil {
		t.Fatal("a cancelled publish reported success")
	}
	mid := f.state(t)
	for _, tg := range []string{"2.9", "latest", "2.9-cu126", "2.9-cu128", "2.10-cu128"} {
		if _, ok := mid[tg]; ok {
			t.Errorf("floating tag %s moved in an interrupted publish", tg)
		}
	}
	res, err := f.publish(t, context.Background(), nil)
	if err != nil || res.Failed() {
		t.Fatal(err, res.Errors)
	}
	if got, want := f.variants(t, f.state(t)), want; !maps.Equal(got, want) {
		t.Errorf("after re-run: %v, want the state of an uninterrupted run %v", got, want)
	}
}

// variants maps each tag of a state to the variant whose image it names (digests differ
// between fixtures; the variant label does not).
func (f *fixture) variants(t *testing.T, st map[string]string) map[string]string {
	t.Helper()
	byDigest := map[string]string{}
	for id, r := range f.byID {
		byDigest[r.Digest] = id
	}
	out := map[string]string{}
	for tag, d := range st {
		id, ok := byDigest[d]
		if !ok {
			t.Fatalf("tag %s names %s, the image of no variant", tag, d)
		}
		out[tag] = id
	}
	return out
}

func TestFlakyRegistryConverges(t *testing.T) {
	f := newFixture(t)
	f.reg.faults.Store(300) // 30% of requests: 500, 429 or a reset connection
	var res *Result
	var err error
	for try := 0; try < 5; try++ {
		res, err = f.publish(t, context.Background(), nil)
		if err == nil && !res.Failed() {
			break
		}
		t.Logf("try %d: %v %v", try, err, res.Errors)
	}
	f.reg.faults.Store(0)
	if err != nil || res.Failed() {
		t.Fatalf("did not converge: %v %v", err, res.Errors)
	}
	f.reg.mu.Lock()
	faulted := len(f.reg.failed)
	f.reg.mu.Unlock()
	if faulted < 10 {
		t.Errorf("only %d request(s) were made to fail; the test needs a flaky registry", faulted)
	}
	t.Logf("%d distinct requests failed at least once", faulted)
	st := f.state(t)
	if len(st) != 8 || st["latest"] != f.byID["2.9.1-cu128"].Digest || st["2.9-cu126"] != f.byID["2.9.1-cu126"].Digest {
		t.Errorf("state: %v", st)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.reg.reset()
	res, err := f.publish(t, context.Background(), &Publisher{Target: DryRun{}})
	if err != nil {
		t.Fatal(err)
	}
	if f.reg.puts.Load() != 0 || f.reg.uploads.Load() != 0 || len(f.state(t)) != 0 {
		t.Error("dry run changed the registry")
	}
	creates := 0
	for _, a := range res.Actions {
		if a.Op == report.OpCreate {
			creates++
		}
	}
	if creates != 8 {
		t.Errorf("dry run planned %d creations, want 8: %+v", creates, res.Actions)
	}
}

func TestInspect(t *testing.T) {
	f := newFixture(t)
	if _, err := f.publish(t, context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	info, err := inspect.Image(context.Background(), fast(t), f.repo+":2.9", true)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Torchimg() || info.Label("variant") != "2.9.1-cu128" || strings.Join(info.Tags, " ") != "2.9 2.9-cu128 2.9.1-cu128-full latest" {
		t.Errorf("info: %+v", info)
	}
	// An image torchimg did not build.
	plain := stageVariant(t, f.reg, "plain", map[string]string{"org.opencontainers.image.title": "x"})
	info, err = inspect.Image(context.Background(), fast(t), plain.StagedRef, false)
	if err != nil || info.Torchimg() || info.Labels["org.opencontainers.image.title"] != "x" {
		t.Errorf("plain image: %v %+v", err, info)
	}
	// The same image from an OCI layout.
	dir := t.TempDir()
	src, _ := name.ParseReference(f.byID["2.9.1-cu126"].StagedRef)
	idx, err := remote.Index(src)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := layout.Write(filepath.Join(dir, "l"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "2.9-cu126"})); err != nil {
		t.Fatal(err)
	}
	info, err = inspect.Image(context.Background(), fast(t), filepath.Join(dir, "l"), true)
	if err != nil || info.Label("variant") != "2.9.1-cu126" || info.Digest != f.byID["2.9.1-cu126"].Digest || strings.Join(info.Tags, ",") != "2.9-cu126" {
		t.Errorf("layout: %v %+v", err, info)
	}
	if _, err := inspect.Image(context.Background(), fast(t), f.repo+":nope", false); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing tag: %v", err)
	}
	_ = os.Remove
}

func TestMissingShardHoldsFloatingTags(t *testing.T) {
	f := newFixture(t)
	// The plan has a fourth variant that no report covers (its shard's report was not passed).
	f.reports[0].PlanVariants = []string{"2.9.1-cu126", "2.9.1-cu128", "2.10.0-cu128", "2.11.0-cu128"}
	res, err := f.publish(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := f.state(t)
	if _, ok := st["latest"]; ok || !strings.Contains(res.FloatingHeld, "2.11.0-cu128") {
		t.Errorf("floating tags must wait for the missing shard: held %q, state %v", res.FloatingHeld, st)
	}
	if _, ok := st["2.9.1-cu128-full"]; !ok {
		t.Error("immutable tags of the reported variants should be published")
	}
}

func TestNaturalOrder(t *testing.T) {
	tags := []report.Action{{Tag: "2.10-cu128", Kind: report.Floating}, {Tag: "2.9-cu128", Kind: report.Floating}, {Tag: "latest", Kind: report.Floating}, {Tag: "2.9.1-cuda12.8.1", Kind: report.Immutable}, {Tag: "2.9-cu126", Kind: report.Floating}}
	sortActions(tags)
	var got []string
	for _, a := range tags {
		got = append(got, a.Tag)
	}
	if strings.Join(got, " ") != "2.9.1-cuda12.8.1 2.9-cu126 2.9-cu128 2.10-cu128 latest" {
		t.Errorf("order: %v", got)
	}
}

// A shard of a release publishes its images and immutable tags, and leaves floating tags alone.
func TestSkipFloating(t *testing.T) {
	f := newFixture(t)
	res, err := f.publish(t, context.Background(), &Publisher{SkipFloating: "a shard"})
	if err != nil || res.Failed() || res.FloatingSkipped != "a shard" {
		t.Fatalf("%v %+v", err, res)
	}
	st := f.state(t)
	if len(st) != 3 {
		t.Errorf("want only the 3 immutable tags, have %v", st)
	}
	for _, a := range res.Actions {
		if a.Kind == report.Floating && (a.Op != report.OpHeld || a.Done || a.Reason != "a shard") {
			t.Errorf("floating action %+v", a)
		}
	}
}

// An immutable tag that names an image of the same variant built from other inputs is a
// conflict whose message says what changed and what to add to the template.
func TestChangedContentConflict(t *testing.T) {
	f := newFixture(t)
	v := f.byID["2.9.1-cu128"]
	old := stageVariant(t, f.reg, "old-build", map[string]string{
		"io.torchimg.schema-version": "2", "io.torchimg.torch.version": "2.9.1", "io.torchimg.variant": "2.9.1-cu128",
		"io.torchimg.inputs": "sha256:" + strings.Repeat("1", 64), "io.torchimg.inputs.context": "sha256:" + strings.Repeat("2", 64),
		"org.opencontainers.image.base.digest": "sha256:" + strings.Repeat("3", 64)})
	repo, _ := name.NewRepository(f.repo)
	src, _ := name.ParseReference(old.StagedRef)
	d, _ := remote.Get(src)
	idx, _ := d.ImageIndex()
	if err := remote.WriteIndex(repo.Tag(v.ImmutableTags[0]), idx); err != nil {
		t.Fatal(err)
	}
	res, err := f.publish(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Join(res.Errors, "\n")
	if !res.Failed() || !strings.Contains(msg, "an image of this variant built from other inputs") || !strings.Contains(msg, "put {{.Inputs}} in the immutable tag template") {
		t.Errorf("want a changed-content conflict that says what to add: %s", msg)
	}
}
