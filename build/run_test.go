package build

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// fake is a builder that records which variants it saw and how many ran at once.
type fake struct {
	name    string
	mu      sync.Mutex
	seen    []string
	running atomic.Int32
	peak    atomic.Int32
	fail    map[string]bool
	delay   time.Duration
}

func (f *fake) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f.mu.Lock()
	f.seen = append(f.seen, req.Variant.ID)
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return finish(newResult(req), report.Cancelled, "solve", ctx.Err())
	}
	if f.fail[req.Variant.ID] {
		return finish(newResult(req), report.Failed, "solve", errors.New("boom"))
	}
	return finish(newResult(req), report.Passed, "", nil)
}

func reqs(ids map[string]string) []Request {
	var out []Request
	for id, base := range ids {
		out = append(out, Request{Variant: &matrix.Variant{ID: id, Base: base}})
	}
	return out
}

func TestPoolKeepsBasesTogether(t *testing.T) {
	a, b := &fake{name: "a"}, &fake{name: "b"}
	vars := map[string]string{"v1": "base-x", "v2": "base-x", "v3": "base-x", "v4": "base-y", "v5": "base-z"}
	rs := reqs(vars)
	var vs []*matrix.Variant
	for _, r := range rs {
		vs = append(vs, r.Variant)
	}
	pool := NewPool([]Interface{a, b}, vs)
	All(context.Background(), pool, rs)
	bases := func(f *fake) map[string]bool {
		m := map[string]bool{}
		for _, id := range f.seen {
			m[vars[id]] = true
		}
		return m
	}
	ba, bb := bases(a), bases(b)
	for base := range ba {
		if bb[base] {
			t.Errorf("base %s went to both builders", base)
		}
	}
	if len(a.seen) == 0 || len(b.seen) == 0 || len(a.seen)+len(b.seen) != 5 {
		t.Errorf("spread: a=%v b=%v", a.seen, b.seen)
	}
}

func TestLimiterAndContinueOnError(t *testing.T) {
	f := &fake{delay: 20 * time.Millisecond, fail: map[string]bool{"v2": true}}
	rs := reqs(map[string]string{"v1": "x", "v2": "x", "v3": "x", "v4": "x", "v5": "x", "v6": "x"})
	res := All(context.Background(), NewLimiter(f, 2), rs)
	if p := f.peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency %d, limit 2", p)
	}
	passed := 0
	for _, r := range res {
		if r.Status == report.Passed {
			passed++
		}
	}
	if passed != 5 {
		t.Errorf("one failure must not stop the others: %d passed", passed)
	}
}

func TestCancelStopsEveryBuild(t *testing.T) {
	f := &fake{delay: time.Hour}
	rs := reqs(map[string]string{"v1": "x", "v2": "x", "v3": "x"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan []*report.BuildEntry)
	go func() { done <- All(ctx, NewLimiter(f, 1), rs) }()
	select {
	case res := <-done:
		for _, r := range res {
			if r.Status != report.Cancelled {
				t.Errorf("%s: %s", r.ID, r.Status)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not stop the builds")
	}
}
