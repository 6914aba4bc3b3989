package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/torchimg/torchimg/check"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/inspect"
	"github.com/torchimg/torchimg/matrix/compat"
)

// checkCmd is implemented in this file (torchimg check).
func (a *app) checkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [IMAGE]",
		Short: "Tell whether an image will run on this host's driver and GPUs, before pulling it",
		Long: `check reads an image's labels and environment from a registry or an OCI layout (no layer is pulled)
and judges it against this host's NVIDIA driver and GPUs (read through NVML), or against a host you
describe with what-if flags (--driver, --cuda, --gpu-cc, --brand; any of them switches NVML off).
Only the GPUs the container would get are judged (--gpus, else NVIDIA_VISIBLE_DEVICES, else
CUDA_VISIBLE_DEVICES).

Two things decide:
  driver  the image's NVIDIA_REQUIRE_* (or CUDA_VERSION) is evaluated exactly as the NVIDIA container
          toolkit does for every GPU: cuda>=X.Y against the CUDA version the driver supports, or a
          forward-compatibility clause (brand=tesla,driver>=535,driver<536 ...) that only datacenter
          brands match. A driver inside CUDA minor-version compatibility (e.g. 525 for a CUDA 12.8 image)
          is still refused by that check; NVIDIA_DISABLE_REQUIRE=1 starts it, with PTX JIT limits.
          With --driver and no --cuda, the driver's CUDA version is derived from the compatibility data.
  runtime the NVIDIA container runtime decides how that shows. Under the legacy hook (docker run --gpus,
          nvidia-container-runtime mode legacy) a failing NVIDIA_REQUIRE_* refuses the container at start.
          Under CDI (mode cdi or jit-cdi, the default of nvidia-container-toolkit >= 1.18) nothing is
          evaluated: the container starts, and CUDA works or fails at its first call
          (torch.cuda.is_available() is False). In both modes the image's forward-compatibility
          libraries are injected when they are newer than the driver: on GeForce and TITAN cards CUDA then
          fails with error 804. --runtime picks the mode; on this host it is read from
          /etc/nvidia-container-runtime/config.toml; where the modes differ and the mode is not known,
          check says what each does and cannot tell.
  arch    the GPU's compute capability against the image's architecture list (cuda.archs label): a cubin
          sm_XY runs on a GPU X.Z with Z >= Y; otherwise a +PTX entry at or below the GPU's capability
          runs only through PTX JIT (slow first run); otherwise it does not run. Without --gpu-cc a
          what-if check judges the driver only.

When the image will not run, check lists the tags of the same repository that would (at most 300
tags are read, each distinct image once; not for OCI layouts; --no-suggest skips it).

Without IMAGE, check diagnoses this host or container: driver (NVML and /proc/driver/nvidia/version),
GPUs (NVML and /dev/nvidia* nodes), container and NVIDIA container toolkit mounts (libcuda.so.1,
/dev/nvidiactl, nvidia-smi), duplicate CUDA libraries on LD_LIBRARY_PATH and in the ld.so cache, and,
inside a torchimg image (/etc/torchimg/image.env), the image's own requirements on this host.

Exit status: 0 compatible (host diagnosis: no FAIL), 3 not compatible (host diagnosis: a FAIL),
4 cannot tell, 1 the image could not be read, 2 usage error.`,
		Example: `  torchimg check ghcr.io/torchimg/pytorch-cuda:2.9-cu128
  torchimg check ghcr.io/torchimg/pytorch-cuda:2.9-cu130 --driver 535.104.05 --gpu-cc 7.0 --brand tesla
  torchimg check ghcr.io/torchimg/pytorch-cuda:2.9-cu128 --driver 550.54.15 --brand geforce --runtime cdi
  torchimg check ghcr.io/torchimg/pytorch-cuda:2.9-cu128 --gpus 1
  torchimg check oci:dist/oci/2.9.1-cu128-py3.12-runtime-ubuntu24.04 --driver 570.124.06 --gpu-cc 9.0 --gpu-cc 8.0
  torchimg check -o json ghcr.io/torchimg/pytorch-cuda:latest
  torchimg check                     # diagnose this host or container`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCheck(cmd.Context(), args)
		},
	}
	fs := cmd.Flags()
	fs.StringP("output", "o", "table", "output format: table, json")
	fs.String("driver", "", "what-if: NVIDIA driver version, e.g. 535.104.05 (switches NVML off)")
	fs.String("cuda", "", "what-if: CUDA version the driver supports (nvidia-smi \"CUDA Version\"), e.g. 12.2; default: derived from --driver")
	fs.StringSlice("gpu-cc", nil, "what-if: GPU compute capability, e.g. 7.0 (repeat for several GPUs)")
	fs.String("brand", "", "what-if: GPU brand as NVML names it: "+strings.Join(check.Brands, ", "))
	fs.String("runtime", "", "the NVIDIA container runtime's mode: legacy (the prestart hook: docker run --gpus, mode legacy) or cdi (cdi or jit-cdi, the default of nvidia-container-toolkit >= 1.18); default: read from "+check.RuntimeConfigPath+" on this host, both modes for a what-if host")
	fs.String("gpus", "", "the GPUs the container gets, as docker --gpus or NVIDIA_VISIBLE_DEVICES spells them: all, none, or indices and UUIDs (0,2); default: NVIDIA_VISIBLE_DEVICES, then CUDA_VISIBLE_DEVICES, then all")
	fs.Bool("no-suggest", false, "do not list the repository's tags that would run on this host")
	addRegistryFlags(cmd)
	return cmd
}

func (a *app) runCheck(ctx context.Context, args []string) error {
	format := a.v.GetString("output")
	if format != "table" && format != "json" {
		return usageErrorf("--output %q: valid formats are table, json", format)
	}
	db, err := compat.Default()
	if err != nil {
		return fmt.Errorf("compatibility data: %w", err)
	}
	w := check.WhatIf{
		Driver:  a.v.GetString("driver"),
		CUDA:    a.v.GetString("cuda"),
		Brand:   a.v.GetString("brand"),
		CCs:     splitList(a.v.GetStringSlice("gpu-cc")),
		Runtime: a.v.GetString("runtime"),
	}
	whatIf := w.Driver != "" || w.CUDA != "" || w.Brand != "" || len(w.CCs) > 0

	var h check.Host
	sys := a.system()
	if whatIf {
		if len(args) == 0 {
			return usageErrorf("--driver, --cuda, --gpu-cc and --brand describe a host to check an IMAGE against; give the image, or drop them to diagnose this host")
		}
		if h, err = w.Host(db); err != nil {
			return usageErrorf("%w", err)
		}
	} else {
		facts, err := a.hostSource().Facts(ctx)
		if err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("read the NVIDIA driver through NVML: %w", err)}
		}
		h = check.Host{Facts: facts}
		if w.Runtime != "" {
			if h.Runtime, err = check.ParseRuntime(w.Runtime); err != nil {
				return usageErrorf("%w", err)
			}
			h.RuntimeSource = "--runtime"
		} else {
			h.Runtime, h.RuntimeSource = check.RuntimeOf(sys)
		}
	}
	sel := host.SelectionFrom(a.v.GetString("gpus"), sys.Env)
	if whatIf && sel.Source != "--gpus" {
		sel = host.Selection{} // a what-if host is the one described, not this shell's
	}
	before := len(h.Facts.GPUs)
	if h.Facts, err = host.Select(h.Facts, sel); err != nil {
		return usageErrorf("%w", err)
	}
	h.Selected = sel.Describe(before, len(h.Facts.GPUs))

	if len(args) == 0 {
		d := check.Diagnose(ctx, h.Facts, sys, db)
		d.Host.Selected = h.Selected
		if format == "json" {
			err = check.WriteJSON(a.out, d)
		} else {
			err = check.WriteDiagnosis(a.out, d)
		}
		if err != nil {
			return err
		}
		return verdictExit(d.Verdict)
	}

	ref := args[0]
	rc, err := a.registry()
	if err != nil {
		return err
	}
	info, err := inspect.Image(ctx, rc, ref, false)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	res := check.Evaluate(info, h, db)
	if _, layout := inspect.IsLayout(ref); !layout && res.Verdict != check.Compatible && !a.v.GetBool("no-suggest") {
		if r, perr := name.ParseReference(ref, name.WeakValidation); perr == nil {
			repo := r.Context().String()
			a.log.Debug("reading the repository's tags for suggestions", "repository", repo)
			cands, lerr := inspect.Repository(ctx, rc, repo)
			if lerr != nil {
				fmt.Fprintf(a.err, "warning: cannot suggest other tags: %v\n", lerr)
			}
			res.Suggestions = check.Suggest(cands, h, db, info.Digest)
		}
	}
	if format == "json" {
		err = check.WriteJSON(a.out, res)
	} else {
		err = check.WriteTable(a.out, res, h)
	}
	if err != nil {
		return err
	}
	return verdictExit(res.Verdict)
}

func verdictExit(v check.Verdict) error {
	switch v {
	case check.NotCompatible:
		return &exitError{code: exitIncompatible}
	case check.CannotTell:
		return &exitError{code: exitUnknown}
	}
	return nil
}
