package publish

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/torchimg/torchimg/report"
)

// secondBuild stages another build of the same variants (same tags, other digests) into the
// same registry and repository as f.
func secondBuild(t *testing.T, f *fixture, immutableSuffix string) *fixture {
	t.Helper()
	g := &fixture{reg: f.reg, repo: f.repo, byID: map[string]*report.BuildEntry{}}
	rep := &report.Build{Schema: report.BuildSchema, Repository: f.repo, LabelsPrefix: "io.torchimg", MatrixRevision: "abc"}
	for _, e := range f.reports[0].Variants {
		labels := map[string]string{}
		for k, v := range e.Labels {
			labels[k] = v
		}
		labels["build"] = "second"
		res := stageVariant(t, f.reg, e.ID+"-b", labels)
		res.ID = e.ID
		res.ImmutableTags = []string{e.ID + immutableSuffix}
		res.FloatingTags = e.FloatingTags
		rep.Variants = append(rep.Variants, res)
		g.byID[e.ID] = res
	}
	rep.Plan = planOf(rep.Variants)
	g.reports = []*report.Build{rep}
	return g
}

// Two publishes of different builds with the same tags, started together: exactly one
// succeeds, and the repository holds that release's state, never a mix.
func TestConcurrentPublishesDoNotMix(t *testing.T) {
	for run := 0; run < 3; run++ {
		a := newFixture(t)
		b := secondBuild(t, a, "-full")
		var wg sync.WaitGroup
		type out struct {
			res *Result
			err error
		}
		outs := make([]out, 2)
		for i, f := range []*fixture{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.publish(t, context.Background(), nil)
				outs[i] = out{res, err}
			}()
		}
		wg.Wait()
		ok := 0
		winner := -1
		for i, o := range outs {
			if o.err == nil && o.res != nil && !o.res.Failed() {
				ok++
				winner = i
				continue
			}
			msg := ""
			if o.err != nil {
				msg = o.err.Error()
			} else {
				msg = strings.Join(o.res.Errors, "; ")
			}
			if !strings.Contains(msg, "refusing to move it") && !strings.Contains(msg, "leased to") && !strings.Contains(msg, "changed by someone else") {
				t.Errorf("run %d: the losing publish does not name the lease or the conflict: %s", run, msg)
			}
		}
		if ok != 1 {
			t.Fatalf("run %d: %d publishes succeeded, want exactly 1: %+v %+v", run, ok, outs[0], outs[1])
		}
		win := []*fixture{a, b}[winner]
		st := a.state(t)
		for id, e := range win.byID {
			for _, tg := range append(append([]string{}, e.ImmutableTags...), e.FloatingTags...) {
				if st[tg] != e.Digest {
					t.Errorf("run %d: tag %s of %s names %s, want the winner's %s", run, tg, id, st[tg], e.Digest)
				}
			}
		}
	}
}

// A lease held by a running publish makes another wait, then fail naming the holder.
func TestLeaseHeldThenStale(t *testing.T) {
	f := newFixture(t)
	repo, _ := name.NewRepository(f.repo)
	l := &Leaser{Client: fast(t), Repo: repo, Release: "other release", LeaseOptions: LeaseOptions{Settle: 10 * time.Millisecond, TTL: 300 * time.Millisecond}}
	held, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.publish(t, context.Background(), &Publisher{Lease: LeaseOptions{Settle: 10 * time.Millisecond, Poll: 10 * time.Millisecond, Wait: 200 * time.Millisecond}})
	var le *LeaseError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "other release") || !strings.Contains(err.Error(), "concurrency group") {
		t.Fatalf("publish under another's lease: %v", err)
	}
	if st := f.state(t); len(st) != 0 {
		t.Errorf("a publish that did not get the lease wrote tags: %v", st)
	}
	// Its holder is killed (no renewal, no release): the lease expires and is broken.
	held.stop()
	<-held.done
	time.Sleep(400 * time.Millisecond)
	res, err := f.publish(t, context.Background(), nil)
	if err != nil || res.Failed() {
		t.Fatalf("publish after the lease expired: %v %+v", err, res)
	}
	if err := held.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "taken over") {
		t.Errorf("the killed holder still thinks it holds the lease: %v", err)
	}
}

// publishOver publishes f, then b (another build with other immutable tags and the same
// floating tags) with block failing some of b's requests; it returns f's floating state.
func publishOver(t *testing.T, ctx context.Context, block func(*http.Request) bool) (before map[string]string, b *fixture, res *Result, err error) {
	t.Helper()
	a := newFixture(t)
	if res, err := a.publish(t, context.Background(), nil); err != nil || res.Failed() {
		t.Fatalf("first release: %v %+v", err, res)
	}
	before = a.state(t)
	b = secondBuild(t, a, "-second")
	a.reg.block.Store(&block)
	defer a.reg.block.Store(nil)
	res, err = b.publish(t, ctx, nil)
	return before, b, res, err
}

func isFloatingPut(q *http.Request, tag string) bool {
	return q.Method == http.MethodPut && strings.HasSuffix(q.URL.Path, "/manifests/"+tag)
}

// A floating-tag PUT that always fails: every floating tag moved before it is put back, the
// publish fails, and the actions say so.
func TestFloatingTagsRollBackOnAFailedWrite(t *testing.T) {
	before, b, res, err := publishOver(t, context.Background(), func(q *http.Request) bool { return isFloatingPut(q, "latest") })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || !strings.Contains(res.FloatingHeld, "floating tag latest could not be written") {
		t.Fatalf("a failed floating write: %+v", res)
	}
	st := b.state(t)
	for _, tg := range []string{"2.9-cu126", "2.9-cu128", "2.9", "latest", "2.10-cu128"} {
		if st[tg] != before[tg] {
			t.Errorf("floating tag %s is at %s, want it back at %s", tg, st[tg], before[tg])
		}
	}
	rolled := 0
	for _, a := range res.Actions {
		if a.Kind == report.Floating && a.Done {
			t.Errorf("action %s says done after the rollback", a.Tag)
		}
		if a.RolledBack {
			rolled++
		}
	}
	if rolled == 0 || len(res.RolledBack) != rolled {
		t.Errorf("rolled back %d (%v)", rolled, res.RolledBack)
	}
	// The new immutable tags stay: they name the new images, and nothing else moved.
	for id, e := range b.byID {
		if st[e.ImmutableTags[0]] != e.Digest {
			t.Errorf("immutable tag of %s: %s", id, st[e.ImmutableTags[0]])
		}
	}
}

// SIGINT (a cancelled context) during the floating step: the same.
func TestFloatingTagsRollBackOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	before, b, res, err := publishOver(t, ctx, func(q *http.Request) bool {
		if isFloatingPut(q, "2.9") {
			once.Do(cancel) // interrupted while the floating tags move; this PUT still goes through
		}
		return false
	})
	if err == nil || !strings.Contains(err.Error(), "interrupted while moving floating tags") {
		t.Fatalf("interrupted publish: %v", err)
	}
	st := b.state(t)
	for _, tg := range []string{"2.9-cu126", "2.9-cu128", "2.9", "latest", "2.10-cu128"} {
		if st[tg] != before[tg] {
			t.Errorf("floating tag %s is at %s, want it back at %s", tg, st[tg], before[tg])
		}
	}
	if res == nil || len(res.RolledBack) == 0 {
		t.Errorf("nothing rolled back: %+v", res)
	}
}

// A tag changed by someone else while this publish runs is an error naming it.
func TestReadBackFindsAForeignWrite(t *testing.T) {
	f := newFixture(t)
	repo, _ := name.NewRepository(f.repo)
	const tag = "2.9.1-cu126-full"
	var written, done atomic.Bool
	block := func(q *http.Request) bool {
		switch {
		case q.Method == http.MethodPut && strings.HasSuffix(q.URL.Path, "/manifests/"+tag):
			written.Store(true)
		case q.Method == http.MethodHead && strings.HasSuffix(q.URL.Path, "/manifests/"+tag) && written.Load() && !done.Swap(true):
			// After this publish wrote the tag, another writer (ignoring the lease) moves it to
			// the image of another variant.
			if err := fast(t).Tag(context.Background(), repo.Tag(tag), repo.Digest(f.byID["2.9.1-cu128"].Digest)); err != nil {
				t.Error(err)
			}
		}
		return false
	}
	f.reg.block.Store(&block)
	res, err := f.publish(t, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || !strings.Contains(strings.Join(res.Errors, "\n"), "tag "+tag+" was changed by someone else during this publish") {
		t.Errorf("foreign write not found: %+v", res.Errors)
	}
}
