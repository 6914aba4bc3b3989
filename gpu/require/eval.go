package require

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Values are the host properties one evaluation sees. An empty field is
// unknown, and a condition on an unknown property holds (configure.c: no
// device visible, or no value reported, "assume it is ok").
type Values struct {
	CUDA   string // CUDA version the driver supports, "12.4"
	Driver string // driver version, "550.54.15"
	Arch   string // compute capability of the device, "9.0"
	Brand  string // brand as libnvidia-container names it: see RuntimeBrand
}

// errInvalid marks what dsl.c reports as "invalid expression".
var errInvalid = errors.New("invalid expression")

// run is dsl_evaluate. It returns the result, the condition that decided a
// failure (the last one evaluated) and an error wrapping errInvalid when
// libnvidia-container would stop with "invalid expression".
func (e Expr) run(v Values) (bool, *Condition, error) {
	ret := true
	var last *Condition
	for ai := range e.Alternatives {
		a := &e.Alternatives[ai]
		completed := true
		for ci := range a.Conditions {
			c := &a.Conditions[ci]
			ok, err := c.eval(v)
			if err != nil {
				return false, c, err
			}
			ret, last = ok, c
			if !ok {
				completed = false
				break
			}
		}
		// dsl.c: the first alternative that runs to its end stops the loop;
		// the result is then whatever the last evaluated condition gave. So
		// an alternative with no conditions (",") after failing ones does not
		// make the requirement hold.
		if completed {
			break
		}
	}
	if ret {
		return true, nil, nil
	}
	return false, last, nil
}

// eval is evaluate_rule plus the check_* rule of configure.c.
func (c *Condition) eval(v Values) (bool, error) {
	if c.err != nil {
		return false, fmt.Errorf("%w: condition %q: %v", errInvalid, c.Text, c.err)
	}
	have := v.get(c.Key)
	if have == "" {
		return true, nil // configure.c: unknown value passes, value not even checked
	}
	var ok bool
	var err error
	if c.Key == KeyBrand {
		switch c.Op {
		case OpEq:
			ok = asciiEqualFold(have, c.Value)
		case OpNe:
			ok = !asciiEqualFold(have, c.Value)
		default:
			err = fmt.Errorf("brand compared with %q", c.Op)
		}
	} else {
		ok, err = compareVersion(have, c.Op, c.Value)
	}
	if err != nil {
		if c.strict != nil {
			err = c.strict
		}
		return false, fmt.Errorf("%w: condition %q: %v", errInvalid, c.Text, err)
	}
	if !ok && len(c.keyText)+1+len(c.Op)+1+len(c.Value) >= exprMax {
		return false, fmt.Errorf("%w: condition %q is too long to report", errInvalid, c.Text)
	}
	return ok, nil
}

func (v Values) get(k Key) string {
	switch k {
	case KeyCUDA:
		return v.CUDA
	case KeyDriver:
		return v.Driver
	case KeyArch:
		return v.Arch
	case KeyBrand:
		return v.Brand
	}
	return ""
}

// compareVersion is dsl_compare_version: "have op want", numbers compared
// one by one, dots skipped, missing or zero tails equal.
func compareVersion(have string, op Op, want string) (bool, error) {
	digitsDots := func(s string) bool { return strings.Trim(s, "0123456789.") == "" }
	if !digitsDots(have) {
		return false, fmt.Errorf("host value %q is not a version", have)
	}
	if !digitsDots(want) {
		return false, fmt.Errorf("value %q is not a version", want)
	}
	v1, v2 := have, want
	for v1 != "" && v2 != "" {
		n1, r1, ok1 := strtoumax(v1)
		n2, r2, ok2 := strtoumax(v2)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("cannot compare %q with %q", have, want)
		}
		if n1 != n2 {
			switch op {
			case OpEq:
				return false, nil
			case OpNe:
				return true, nil
			case OpLt, OpLe:
				return n1 < n2, nil
			case OpGt, OpGe:
				return n1 > n2, nil
			}
		}
		v1 = strings.TrimLeft(r1, ".")
		v2 = strings.TrimLeft(r2, ".")
	}
	v1 = strings.TrimLeft(v1, ".0")
	v2 = strings.TrimLeft(v2, ".0")
	if op == OpNe {
		return v1 != "" || v2 != "", nil
	}
	if op == OpEq || op == OpLe || op == OpGe {
		if v1 == "" && v2 == "" {
			return true, nil
		}
		if op == OpEq {
			return false, nil
		}
	}
	switch op {
	case OpLt, OpLe:
		return v1 == "" && v2 != "", nil
	case OpGt, OpGe:
		return v1 != "" && v2 == "", nil
	}
	return false, fmt.Errorf("unknown operator %q", op)
}

// strtoumax reads the leading decimal number of s (which holds only digits
// and dots). It fails where dsl.c does: no digits, or UINTMAX_MAX/overflow.
func strtoumax(s string) (uint64, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil || n == math.MaxUint64 {
		return 0, s, false
	}
	return n, s[i:], true
}

// RuntimeBrand returns the brand string libnvidia-container compares brand=
// conditions with, for a brand named as gpu/host names NVML brands ("tesla",
// "nvidia", "geforcertx", ...). libnvidia-container (src/driver.c,
// driver_get_device_brand_1_svc) only names Quadro, Tesla, NVS, GRID, GeForce
// and TITAN; every other NVML brand, including NVIDIA (H100, A100, L40S...),
// NVIDIA RTX, Quadro RTX and the vGPU brands, is reported as "Unknown". That
// is why the nvidia/cuda images list brand=unknown; their brand=nvidia,
// brand=nvidiartx, brand=vapps... clauses never match under
// libnvidia-container. An empty brand stays empty (unknown: conditions pass).
func RuntimeBrand(brand string) string {
	b := strings.ToLower(brand)
	switch b {
	case "":
		return ""
	case "quadro", "tesla", "nvs", "grid", "geforce", "titan":
		return b
	}
	return "unknown"
}

// Host is what Evaluate checks requirements against.
type Host struct {
	CUDA    string // CUDA version the driver supports, "12.4" (nvmlSystemGetCudaDriverVersion); "" unknown
	Driver  string // "550.54.15"; "" unknown
	Devices []Device
}

// Device is one visible GPU.
type Device struct {
	Name  string // "NVIDIA H100 80GB HBM3"
	Brand string // lower-case NVML brand name as gpu/host reports it ("tesla", "nvidia", "geforce"...); "" unknown
	Arch  string // compute capability "9.0"; "" unknown
}

// Result of Evaluate.
type Result struct {
	Satisfied bool
	Failed    []Failure
}

// Failure is one requirement that does not hold on one device (or globally).
type Failure struct {
	Requirement string
	Device      int    // index into Host.Devices; -1 = evaluated globally (no devices)
	Reason      string // e.g. "cuda>=12.8 not satisfied: the driver supports CUDA 12.4 (driver 550.54.15)"
	// Runtime is the error nvidia-container-cli prints for this requirement,
	// e.g. "requirement error: unsatisfied condition: cuda>=12.8, please update
	// your driver to a newer version, or use an earlier cuda container".
	Runtime string
	// Invalid is true when libnvidia-container rejects the requirement as an
	// invalid expression (on this host) rather than finding it unsatisfied.
	Invalid bool
}

// Evaluate checks every requirement the way nvidia-container-cli configure
// does: for every visible device (with that device's arch and brand), or once
// globally when there is none. Unlike nvidia-container-cli, which stops at the
// first failure, it reports every (requirement, device) that fails, in the
// order nvidia-container-cli evaluates them (device by device).
func Evaluate(reqs []string, h Host) Result {
	type target struct {
		index int
		dev   *Device
		vals  Values
	}
	var targets []target
	if len(h.Devices) == 0 {
		targets = append(targets, target{index: -1, vals: Values{CUDA: h.CUDA, Driver: h.Driver}})
	}
	for i := range h.Devices {
		d := &h.Devices[i]
		targets = append(targets, target{index: i, dev: d, vals: Values{
			CUDA: h.CUDA, Driver: h.Driver, Arch: d.Arch, Brand: RuntimeBrand(d.Brand),
		}})
	}
	res := Result{Satisfied: true}
	exprs := make([]Expr, len(reqs))
	for i, r := range reqs {
		exprs[i] = scan(r)
	}
	for _, t := range targets {
		for i, e := range exprs {
			ok, _, err := e.run(t.vals)
			if ok {
				continue
			}
			res.Satisfied = false
			f := Failure{Requirement: reqs[i], Device: t.index}
			if err != nil {
				f.Invalid = true
				f.Reason = fmt.Sprintf("%v; libnvidia-container refuses to start the container", err)
				f.Runtime = "requirement error: invalid expression"
			} else {
				f.Reason = reason(e, t.vals, h, t.index)
				f.Runtime = runtimeMessage(reqs[i])
			}
			res.Failed = append(res.Failed, f)
		}
	}
	return res
}

// runtimeMessage is the message dsl_evaluate sets for an unsatisfied
// requirement: it names the first space-separated token of the requirement.
func runtimeMessage(req string) string {
	if i := strings.IndexByte(req, 0); i >= 0 {
		req = req[:i]
	}
	first, _, _ := strings.Cut(req, " ")
	if strings.HasPrefix(first, "cuda>=") {
		return "requirement error: unsatisfied condition: " + first + ", please update your driver to a newer version, or use an earlier cuda container"
	}
	return "requirement error: unsatisfied condition: " + first
}

// reason explains a failed (valid on this host) requirement: the first failing
// condition of the first alternative, and the closest of the others.
func reason(e Expr, v Values, h Host, dev int) string {
	if len(e.Alternatives) == 0 {
		return "not satisfied"
	}
	first := e.Alternatives[0]
	var b strings.Builder
	if c, ok := firstFailing(first, v); ok {
		fmt.Fprintf(&b, "%s not satisfied: %s", c.Text, describe(c, v, h, dev))
	} else {
		fmt.Fprintf(&b, "%s not satisfied", first.Text)
	}
	if len(e.Alternatives) > 1 {
		best, c, ok := closest(e.Alternatives[1:], v)
		n := len(e.Alternatives) - 1
		alts := "alternatives"
		if n == 1 {
			alts = "alternative"
		}
		if ok {
			fmt.Fprintf(&b, "; none of the %d other %s holds either (closest: %s, where %s fails: %s)",
				n, alts, best.Text, c.Text, describe(c, v, h, dev))
		} else {
			fmt.Fprintf(&b, "; none of the %d other %s holds either", n, alts)
		}
	}
	return b.String()
}

// firstFailing returns the first condition of a that fails for v.
func firstFailing(a Alternative, v Values) (Condition, bool) {
	for _, c := range a.Conditions {
		if ok, err := c.eval(v); err != nil || !ok {
			return c, true
		}
	}
	return Condition{}, false
}

// closest returns the alternative with the largest share of holding
// conditions (the first on a tie) and its first failing condition.
func closest(alts []Alternative, v Values) (Alternative, Condition, bool) {
	bestScore := -1.0
	var best Alternative
	var bestCond Condition
	found := false
	for _, a := range alts {
		if len(a.Conditions) == 0 {
			continue
		}
		pass := 0
		var failing *Condition
		for i := range a.Conditions {
			c := a.Conditions[i]
			if ok, err := c.eval(v); err == nil && ok {
				pass++
			} else if failing == nil {
				failing = &a.Conditions[i]
			}
		}
		if failing == nil {
			continue
		}
		score := float64(pass) / float64(len(a.Conditions))
		if score > bestScore {
			bestScore, best, bestCond, found = score, a, *failing, true
		}
	}
	return best, bestCond, found
}

// describe says what the host has for the property a failing condition tests.
func describe(c Condition, v Values, h Host, dev int) string {
	if err := c.parseErr(); err != nil {
		return err.Error()
	}
	gpu := "the GPU"
	var d Device
	if dev >= 0 && dev < len(h.Devices) {
		d = h.Devices[dev]
		gpu = fmt.Sprintf("GPU %d", dev)
		if d.Name != "" {
			gpu += " (" + d.Name + ")"
		}
	}
	switch c.Key {
	case KeyCUDA:
		if v.Driver != "" {
			return fmt.Sprintf("the driver supports CUDA %s (driver %s)", v.CUDA, v.Driver)
		}
		return fmt.Sprintf("the driver supports CUDA %s", v.CUDA)
	case KeyDriver:
		return fmt.Sprintf("the driver is %s", v.Driver)
	case KeyArch:
		return fmt.Sprintf("%s has compute capability %s", gpu, v.Arch)
	case KeyBrand:
		if d.Brand != "" && !strings.EqualFold(d.Brand, v.Brand) {
			return fmt.Sprintf("%s has brand %s, which libnvidia-container reports as %q", gpu, strings.ToLower(d.Brand), v.Brand)
		}
		return fmt.Sprintf("%s has brand %s", gpu, v.Brand)
	}
	return "not satisfied"
}
