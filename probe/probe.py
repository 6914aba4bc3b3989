"""torchimg probe: reports what an image really contains, as JSON on stdout.

Run inside the image by `torchimg build` (CPU, during the build, before anything is pushed)
and by `torchimg smoke` (with --gpu, on a GPU host). It only reports facts; torchimg compares
them with the image's labels. It never raises: every failure is reported in the JSON.
Usage: python probe.py [--gpu] [--package NAME ...]
"""
import json
import os
import platform
import sys
import time
import traceback


def _vers(t):
    return ".".join(str(x) for x in t)


def cudnn_version(v):
    """torch.backends.cudnn.version() int -> dotted (9.x: 91002 -> 9.10.2; 8.x: 8700 -> 8.7.0)."""
    if v is None:
        return None
    v = int(v)
    if v >= 90000:
        return "%d.%d.%d" % (v // 10000, (v % 10000) // 100, v % 100)
    return "%d.%d.%d" % (v // 1000, (v % 1000) // 100, v % 100)


def probe_cpu(out, packages):
    out["python"] = "%d.%d" % sys.version_info[:2]
    if hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled():
        out["python"] += "t"
    out["python_full"] = platform.python_version()
    out["cuda_toolkit_env"] = os.environ.get("CUDA_VERSION")
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        out["errors"].append("import torch: %s: %s" % (type(e).__name__, e))
        return None
    out["torch"] = torch.__version__
    out["torch_cuda"] = getattr(torch.version, "cuda", None)
    try:
        if torch.backends.cudnn.is_available():
            out["cudnn"] = cudnn_version(torch.backends.cudnn.version())
    except Exception as e:  # noqa: BLE001
        out["errors"].append("cudnn: %s" % e)
    try:
        out["nccl"] = _vers(torch.cuda.nccl.version())
    except Exception as e:  # noqa: BLE001
        out["notes"].append("nccl: %s" % e)
    try:
        out["arch_flags"] = torch._C._cuda_getArchFlags()
    except Exception as e:  # noqa: BLE001
        out["notes"].append("arch flags: %s" % e)
    out["packages"] = {}
    for name in packages:
        out["packages"][name] = check_package(name)
    return torch


def check_package(name):
    """Installed (per its metadata) and importable (its top-level modules)."""
    import importlib
    import importlib.metadata as md
    try:
        dist = md.distribution(name)
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": "not installed: %s" % e}
    tops = []
    try:
        txt = dist.read_text("top_level.txt")
        if txt:
            tops = [t.strip() for t in txt.split() if t.strip() and not t.startswith("_")]
    except Exception:  # noqa: BLE001
        pass
    if not tops:
        tops = [name.replace("-", "_").replace(".", "_").lower()]
    for mod in tops:
        try:
            importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "version": dist.version, "error": "import %s: %s: %s" % (mod, type(e).__name__, e)}
    return {"ok": True, "version": dist.version}


def probe_gpu(out, torch):
    g = {}
    out["gpu"] = g
    t0 = time.time()
    try:
        g["available"] = bool(torch.cuda.is_available())
        if not g["available"]:
            g["error"] = "torch.cuda.is_available() is False"
            return
        n = torch.cuda.device_count()
        g["device_count"] = n
        g["devices"] = []
        for i in range(n):
            cap = torch.cuda.get_device_capability(i)
            g["devices"].append({"index": i, "name": torch.cuda.get_device_name(i), "capability": "%d.%d" % tuple(cap)})
        checks = {}
        g["checks"] = checks

        def check(name, fn):
            try:
                checks[name] = {"ok": True, "detail": fn()}
            except Exception as e:  # noqa: BLE001
                checks[name] = {"ok": False, "detail": "%s: %s" % (type(e).__name__, e)}

        def matmul():
            torch.manual_seed(0)
            a = torch.randn(256, 256)
            b = torch.randn(256, 256)
            ref = a @ b
            got = (a.cuda() @ b.cuda()).cpu()
            err = (got - ref).abs().max().item()
            if not torch.allclose(got, ref, rtol=1e-3, atol=1e-3):
                raise AssertionError("GPU matmul differs from CPU by %g" % err)
            return "max abs diff %.2e" % err

        def conv():
            x = torch.randn(2, 3, 32, 32, device="cuda")
            w = torch.randn(8, 3, 3, 3, device="cuda")
            torch.backends.cudnn.enabled = True
            y = torch.nn.functional.conv2d(x, w)
            ref = torch.nn.functional.conv2d(x.cpu(), w.cpu())
            if not torch.allclose(y.cpu(), ref, rtol=1e-3, atol=1e-3):
                raise AssertionError("cuDNN conv2d differs from CPU")
            return "cudnn %s" % cudnn_version(torch.backends.cudnn.version())

        def nccl():
            import tempfile
            import torch.distributed as dist
            f = tempfile.NamedTemporaryFile(delete=False)
            f.close()
            dist.init_process_group("nccl", init_method="file://" + f.name, rank=0, world_size=1)
            try:
                t = torch.ones(4, device="cuda")
                dist.all_reduce(t)
                if t.sum().item() != 4:
                    raise AssertionError("all_reduce gave %s" % t.tolist())
            finally:
                dist.destroy_process_group()
            return "nccl %s" % _vers(torch.cuda.nccl.version())

        def bf16():
            if not torch.cuda.is_bf16_supported():
                return "not supported by this GPU (skipped)"
            a = torch.randn(64, 64, device="cuda", dtype=torch.bfloat16)
            (a @ a).float().sum().item()
            return "ok"

        check("matmul", matmul)
        check("cudnn_conv", conv)
        check("nccl", nccl)
        check("bf16", bf16)
    except Exception as e:  # noqa: BLE001
        g["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        g["seconds"] = round(time.time() - t0, 3)


def main(argv):
    gpu = "--gpu" in argv
    packages = []
    it = iter(argv)
    for a in it:
        if a == "--package":
            packages.append(next(it, ""))
    out = {"probe_version": 1, "errors": [], "notes": []}
    try:
        torch = probe_cpu(out, [p for p in packages if p])
        if gpu and torch is not None:
            probe_gpu(out, torch)
    except Exception:  # noqa: BLE001
        out["errors"].append(traceback.format_exc())
    text = json.dumps(out, sort_keys=True)
    dest = os.environ.get("TORCHIMG_PROBE_OUT")
    if dest:
        with open(dest, "w") as f:
            f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
