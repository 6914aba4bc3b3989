package require

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/torchimg/torchimg/internal/version"
)

// Explain says in plain words what the host needs for one requirement and
// how close it came. It is meant for a failing "cuda>=X.Y ..." requirement of
// an nvidia/cuda-based image, but works for any requirement. minDriver is the
// minimum driver for the image's CUDA toolkit if the caller knows it (from the
// image labels or the compatibility data), or "".
//
// Example, for the 12.8.1 image on a GeForce with driver 565.57.01:
//
//	needs CUDA 12.8 driver support: driver >= 570.124.06, or a driver of branch
//	470/535/550/560/565 on a GPU of brand unknown, grid, tesla, ... (the image's
//	forward-compatibility clauses, e.g. brand=unknown,driver>=470,driver<471);
//	this host: driver 565.57.01 supports CUDA 12.7; driver 565.57.01 is in branch
//	565, but GPU 0 (NVIDIA GeForce RTX 4090) has brand geforce, which no clause lists
func Explain(req string, h Host, minDriver string) string {
	e := scan(req)
	var b strings.Builder

	// What is needed.
	cudaWant, fc := "", []Alternative{}
	for _, a := range e.Alternatives {
		if c, ok := cudaFloor(a); ok && cudaWant == "" {
			cudaWant = c
			continue
		}
		if hasKey(a, KeyDriver) {
			fc = append(fc, a)
		}
	}
	if cudaWant != "" {
		fmt.Fprintf(&b, "needs CUDA %s driver support: ", cudaWant)
		if minDriver != "" {
			fmt.Fprintf(&b, "driver >= %s", minDriver)
		} else {
			fmt.Fprintf(&b, "a driver that supports CUDA %s or newer", cudaWant)
		}
		if len(fc) > 0 {
			branches, brands := branchesAndBrands(fc)
			b.WriteString(", or a driver of ")
			if len(branches) == 1 {
				b.WriteString("branch " + branches[0])
			} else {
				b.WriteString("branch " + strings.Join(branches, "/"))
			}
			if len(brands) > 0 {
				b.WriteString(" on a GPU of brand " + strings.Join(brands, ", "))
			}
			fmt.Fprintf(&b, " (the image's forward-compatibility clauses, e.g. %s)", fc[0].Text)
		}
	} else {
		fmt.Fprintf(&b, "needs %s", describeAlternatives(e))
	}

	// What the host has.
	if h.CUDA == "" && h.Driver == "" && len(h.Devices) == 0 {
		return b.String()
	}
	b.WriteString("; this host: ")
	switch {
	case h.Driver != "" && h.CUDA != "":
		fmt.Fprintf(&b, "driver %s supports CUDA %s", h.Driver, h.CUDA)
	case h.Driver != "":
		fmt.Fprintf(&b, "driver %s", h.Driver)
	case h.CUDA != "":
		fmt.Fprintf(&b, "driver supports CUDA %s", h.CUDA)
	default:
		b.WriteString("driver unknown")
	}
	res := Evaluate([]string{req}, h)
	if res.Satisfied {
		via := holdingAlternative(e, h)
		if via != nil {
			fmt.Fprintf(&b, "; satisfied by %s", via.Text)
			if !hasKey(*via, KeyCUDA) && hasKey(*via, KeyDriver) {
				b.WriteString(" (forward compatibility: the container must use the image's cuda-compat libraries)")
			}
		} else {
			b.WriteString("; satisfied")
		}
		return b.String()
	}
	f := res.Failed[0]
	if f.Invalid {
		fmt.Fprintf(&b, "; %s", f.Reason)
		return b.String()
	}
	if len(fc) > 0 {
		b.WriteString("; " + forwardCompatGap(fc, h, f.Device))
		return b.String()
	}
	fmt.Fprintf(&b, "; %s", f.Reason)
	return b.String()
}

// cudaFloor returns X when a is a single cuda>=X (or cuda>X) condition.
func cudaFloor(a Alternative) (string, bool) {
	if len(a.Conditions) != 1 || a.Conditions[0].parseErr() != nil {
		return "", false
	}
	c := a.Conditions[0]
	if c.Key == KeyCUDA && (c.Op == OpGe || c.Op == OpGt) {
		return c.Value, true
	}
	return "", false
}

func hasKey(a Alternative, k Key) bool {
	for _, c := range a.Conditions {
		if c.parseErr() == nil && c.Key == k {
			return true
		}
	}
	return false
}

// ForwardCompat lists the driver branches ("535", "565") and brands of the forward-compatibility
// clauses of requirements (the alternatives that name a driver range, such as
// "brand=tesla,driver>=565,driver<566"), in order of appearance and without repeats.
func ForwardCompat(reqs []string) (branches, brands []string) {
	var fc []Alternative
	for _, req := range reqs {
		for _, a := range scan(req).Alternatives {
			if _, isFloor := cudaFloor(a); !isFloor && hasKey(a, KeyDriver) {
				fc = append(fc, a)
			}
		}
	}
	return branchesAndBrands(fc)
}

// branchesAndBrands lists, in order of appearance and without repeats, the
// driver ranges (as a branch number "565" when the range is
// driver>=R,driver<R+1) and the brands of forward-compatibility clauses.
func branchesAndBrands(alts []Alternative) (branches, brands []string) {
	seenBr, seenBrand := map[string]bool{}, map[string]bool{}
	for _, a := range alts {
		br := driverRange(a)
		if br != "" && !seenBr[br] {
			seenBr[br] = true
			branches = append(branches, br)
		}
		for _, c := range a.Conditions {
			if c.parseErr() == nil && c.Key == KeyBrand && c.Op == OpEq {
				v := strings.ToLower(c.Value)
				if !seenBrand[v] {
					seenBrand[v] = true
					brands = append(brands, v)
				}
			}
		}
	}
	return branches, brands
}

// driverRange names the driver conditions of a: "565" for
// driver>=565,driver<566, else the conditions joined by commas.
func driverRange(a Alternative) string {
	var conds []Condition
	for _, c := range a.Conditions {
		if c.parseErr() == nil && c.Key == KeyDriver {
			conds = append(conds, c)
		}
	}
	if len(conds) == 2 && conds[0].Op == OpGe && conds[1].Op == OpLt {
		lo, errLo := strconv.Atoi(conds[0].Value)
		hi, errHi := strconv.Atoi(conds[1].Value)
		if errLo == nil && errHi == nil && hi == lo+1 {
			return conds[0].Value
		}
	}
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

// forwardCompatGap says why none of the forward-compatibility clauses holds
// on the device that failed (dev, -1 = global).
func forwardCompatGap(fc []Alternative, h Host, dev int) string {
	v := Values{CUDA: h.CUDA, Driver: h.Driver}
	label := "the GPU"
	var rawBrand string
	if dev >= 0 && dev < len(h.Devices) {
		d := h.Devices[dev]
		v.Arch, v.Brand, rawBrand = d.Arch, RuntimeBrand(d.Brand), strings.ToLower(d.Brand)
		label = fmt.Sprintf("GPU %d", dev)
		if d.Name != "" {
			label += " (" + d.Name + ")"
		}
	}
	// Clauses whose driver conditions hold.
	var inBranch []Alternative
	for _, a := range fc {
		ok := true
		for _, c := range a.Conditions {
			if c.parseErr() == nil && c.Key == KeyDriver {
				if r, err := c.eval(v); err != nil || !r {
					ok = false
					break
				}
			}
		}
		if ok {
			inBranch = append(inBranch, a)
		}
	}
	branches, _ := branchesAndBrands(fc)
	if len(inBranch) == 0 {
		drv := h.Driver
		if drv == "" {
			drv = "unknown"
		}
		s := fmt.Sprintf("driver %s is in none of the branches %s", drv, strings.Join(branches, "/"))
		if h.Driver != "" && len(branches) > 0 {
			if last := branches[len(branches)-1]; version.Valid(last) && version.Compare(h.Driver, last) > 0 {
				s += fmt.Sprintf(" (it is newer than %s but too old for CUDA's own check)", last)
			}
		}
		return s
	}
	branch := driverRange(inBranch[0])
	_, brandsInBranch := branchesAndBrands(inBranch)
	shown := v.Brand
	if rawBrand != "" && rawBrand != v.Brand {
		shown = fmt.Sprintf("%s (libnvidia-container reports it as %q)", rawBrand, v.Brand)
	}
	if shown == "" {
		shown = "unknown to this check"
	}
	_, c, ok := closest(inBranch, v)
	if ok && c.Key == KeyBrand {
		return fmt.Sprintf("driver %s is in branch %s, but %s has brand %s, which no clause for that branch lists (%s)",
			h.Driver, branch, label, shown, strings.Join(brandsInBranch, ", "))
	}
	if ok {
		return fmt.Sprintf("driver %s is in branch %s, but %s fails: %s", h.Driver, branch, c.Text, describe(c, v, h, dev))
	}
	return fmt.Sprintf("driver %s is in branch %s", h.Driver, branch)
}

// holdingAlternative returns the alternative that makes the requirement hold
// on the first device (or globally).
func holdingAlternative(e Expr, h Host) *Alternative {
	v := Values{CUDA: h.CUDA, Driver: h.Driver}
	if len(h.Devices) > 0 {
		v.Arch, v.Brand = h.Devices[0].Arch, RuntimeBrand(h.Devices[0].Brand)
	}
	for i := range e.Alternatives {
		a := &e.Alternatives[i]
		all := len(a.Conditions) > 0
		for _, c := range a.Conditions {
			if ok, err := c.eval(v); err != nil || !ok {
				all = false
				break
			}
		}
		if all {
			return a
		}
	}
	return nil
}

func describeAlternatives(e Expr) string {
	if len(e.Alternatives) == 0 {
		return "nothing (empty requirement)"
	}
	parts := make([]string, len(e.Alternatives))
	for i, a := range e.Alternatives {
		parts[i] = a.Text
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "one of " + strings.Join(parts, " | ")
}
