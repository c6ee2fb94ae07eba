"""PyTorch ``nn.Module`` models (TorchScript and ``torch.export`` modules too).

Input convention (documented default, overridable with ``preprocess=``): ``float [N, 3, H, W]``
in 0..1, like torchvision's ``ToTensor`` — the adapter maps the images' detected pixel range to
0..1 (``preprocess="unit_range"``) and this backend moves channels first. Any normalisation is
the model's own or the user's ``preprocess``. The module is put in ``eval()`` mode and run under
``torch.inference_mode()`` on its own device (the device of its first parameter, e.g. a GPU) and
in its own floating dtype (float16 / bfloat16 models get inputs of that dtype); outputs come back
as float64 NumPy. A CUDA out-of-memory error halves the batch and retries. Gradients (for the
XRAI ranking) come from autograd through the same resize, preprocessing and score conversion.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .contract import NotDifferentiable, qualified_name, tensor_scores

TORCH_OPS = {"softmax": lambda x: x.softmax(dim=-1), "log": lambda x: x.log(),
             "clip_min": lambda x, v: x.clamp_min(v)}
"""PyTorch's primitives for :func:`~imacs_widget.models.contract.tensor_scores`."""


def _logits(out):
    """The class scores of a module's output: a tensor, ``.logits`` or ``["logits"]``, or ``[0]``."""
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, dict):
        return out["logits"] if "logits" in out else next(iter(out.values()))
    if isinstance(out, (list, tuple)):
        return out[0]
    return out


class TorchBackend:
    """A ``torch.nn.Module`` run channels-first on its own device and dtype."""

    kind = "torch"
    default_preprocess = "unit_range"
    input_size = None
    class_names = None

    def __init__(self, module, device=None):
        import torch

        self.model = module
        try:
            module.eval()
        except NotImplementedError:  # a torch.export module: already an inference graph
            pass
        first = next(iter(module.parameters()), None)
        if first is None:
            first = next(iter(module.buffers()), None)
        if device is not None:
            self.device = torch.device(device)
            module.to(self.device)
        else:
            self.device = first.device if first is not None else torch.device("cpu")
        floating = first is not None and first.is_floating_point()
        self.dtype = first.dtype if floating else torch.float32

    def move_to(self, device) -> None:
        """Run on ``device`` from now on (a Ray worker given a GPU moves its copy there)."""
        import torch

        self.device = torch.device(device)
        self.model.to(self.device)

    # -- running ---------------------------------------------------------------------------------
    def _tensor(self, x: np.ndarray):
        import torch

        t = torch.from_numpy(np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 3, 1, 2)))
        return t.to(self.device, self.dtype)

    def _run(self, t):
        return _logits(self.model(t))

    def forward(self, x: np.ndarray) -> np.ndarray:
        import torch

        try:
            with torch.inference_mode():
                out = self._run(self._tensor(x))
        except torch.cuda.OutOfMemoryError:
            if len(x) <= 1:
                raise
            torch.cuda.empty_cache()
            half = len(x) // 2
            return np.concatenate([self.forward(x[:half]), self.forward(x[half:])])
        return out.float().cpu().numpy().astype(np.float64)

    def output_hint(self) -> str | None:
        return None

    # -- the blurred baseline on the device ------------------------------------------------------
    def gaussian_blur(self, images: np.ndarray, sigma: float) -> np.ndarray:
        """``scipy.ndimage.gaussian_filter(images, (0, sigma, sigma, 0), mode="reflect")`` (the
        same kernel: radius ``int(4 sigma + 0.5)``, half-sample symmetric borders) as two
        separable convolutions on the model's device; ``float32 [N, H, W, 3]`` back on the host.
        """
        import torch

        radius = int(4.0 * float(sigma) + 0.5)
        xs = np.arange(-radius, radius + 1, dtype=np.float64)
        k = np.exp(-0.5 * (xs / float(sigma)) ** 2)
        k = torch.as_tensor((k / k.sum()).astype(np.float32), device=self.device)
        n, h, w, c = images.shape
        with torch.inference_mode():
            x = self._upload(np.asarray(images, np.float32)).permute(0, 3, 1, 2)
            x = x.reshape(n * c, 1, h, w)
            for dim, size in ((2, h), (3, w)):
                idx = np.arange(-radius, size + radius)
                idx = np.where(idx < 0, -idx - 1, idx)  # reflect about the edge (scipy "reflect")
                period = 2 * size
                idx = np.mod(idx, period)
                idx = np.where(idx >= size, period - 1 - idx, idx)
                x = x.index_select(dim, torch.as_tensor(idx, device=self.device))
                kern = k.view(1, 1, -1, 1) if dim == 2 else k.view(1, 1, 1, -1)
                x = torch.nn.functional.conv2d(x, kern)
            return x.reshape(n, c, h, w).permute(0, 2, 3, 1).contiguous().cpu().numpy()

    def device_blur(self):
        """:meth:`gaussian_blur` when the model runs on an accelerator (on a CPU, SciPy's exact
        filter is as fast), else ``None``."""
        return self.gaussian_blur if self.device.type != "cpu" else None

    # -- masked scoring on the device ----------------------------------------------------------------
    def supports_masked(self, adapter) -> bool:
        """Masked images are composed on the device when the preprocessing is a named one (a
        custom callable may expect NumPy)."""
        return adapter._affine() is not None

    def _upload(self, a: np.ndarray, dtype=None):
        """``a`` on the model's device: pinned and non-blocking to a GPU, a view on the CPU."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(a))
        if dtype is not None:
            t = t.to(dtype)
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def device_preprocess(self, adapter):
        """The adapter's resize + named preprocessing as a function of ``float32 [n, 3, H, W]``
        device tensors (bilinear, half-pixel centres: :func:`~imacs_widget.models.resize.resize_bilinear`'s
        convention), returning the model's input dtype."""
        affine = self.device_affine(adapter)
        return lambda x: affine(x).to(self.dtype)

    def device_affine(self, adapter):
        """The adapter's resize and named (affine) preprocessing on ``float32 [n, 3, H, W]``
        device tensors, in float32."""
        import torch

        flip, scale, offset = adapter._affine()
        scale_t = torch.as_tensor(np.broadcast_to(np.asarray(scale, np.float32), (3,)).copy(),
                                  device=self.device).view(1, 3, 1, 1)
        offset_t = torch.as_tensor(np.broadcast_to(np.asarray(offset, np.float32), (3,)).copy(),
                                   device=self.device).view(1, 3, 1, 1)
        size = adapter.input_size

        def pre(x):
            if size is not None and tuple(x.shape[2:4]) != tuple(size):
                x = torch.nn.functional.interpolate(x, size=tuple(size), mode="bilinear",
                                                    align_corners=False)
            if flip:
                x = x.flip(1)
            return x * scale_t + offset_t

        return pre

    def masked_forward(self, adapter, images, baselines, label_maps, jobs, batch_size,
                       progress=None):
        """Raw outputs ``float64 [n_jobs, C]`` of ``jobs`` (:class:`~imacs_widget.models.masked.MaskedJobs`),
        every masked image composed, resized, preprocessed and scored on the model's device.

        The chunk's images, baselines and label maps are uploaded once (pinned, non-blocking to
        a GPU); each batch's drop masks are gathered from the label maps there, and the outputs
        stay on the device until the last batch, then come back in one transfer. A CUDA
        out-of-memory error halves the batch and retries.
        """
        import torch

        pre = self.device_preprocess(adapter)
        with torch.inference_mode():
            img = self._upload(images).permute(0, 3, 1, 2).contiguous()
            base = self._upload(baselines).permute(0, 3, 1, 2).contiguous()
            maps = self._upload(label_maps, torch.int64)
            idx = self._upload(jobs.image)
            excl = self._upload(jobs.excluded)
            n, (h, w) = len(jobs), images.shape[1:3]
            out, a, bs = None, 0, int(batch_size)
            while a < n:
                b = min(n, a + bs)
                try:
                    i = idx[a:b]
                    drop = torch.gather(excl[a:b], 1, maps[i].view(b - a, -1)).view(b - a, 1, h, w)
                    y = _logits(self.model(pre(torch.where(drop, base[i], img[i])))).float()
                except torch.cuda.OutOfMemoryError:
                    if bs <= 1:
                        raise
                    torch.cuda.empty_cache()
                    bs = max(1, bs // 2)
                    continue
                if out is None:
                    out = torch.empty((n, *y.shape[1:]), dtype=torch.float32, device=y.device)
                out[a:b] = y
                if progress is not None:
                    progress(b - a)
                a = b
            return out.cpu().numpy().astype(np.float64)

    def weights_digest(self) -> bytes:
        h = hashlib.sha256(qualified_name(self.model).encode())
        h.update(str(self.model).encode())  # the module tree (no memory addresses)
        for key, value in self.model.state_dict().items():
            h.update(key.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        return h.digest()

    # -- gradients ---------------------------------------------------------------------------------
    def score_tensor_function(self, adapter):
        """``scores(x)``: the adapter's scores as a differentiable torch function of pixel-scale
        ``[n, H, W, 3]`` tensors (resize, preprocessing and score conversion inside)."""
        import torch

        pre = adapter.tensor_preprocess()
        size, score = adapter.input_size, adapter.score
        returns = adapter.returns if adapter.returns != "auto" else "logits"

        def scores(x):
            if size is not None and tuple(x.shape[1:3]) != tuple(size):
                x = torch.nn.functional.interpolate(x.permute(0, 3, 1, 2), size=tuple(size),
                                                    mode="bilinear", align_corners=False)
                x = x.permute(0, 2, 3, 1)
            t = pre(x).permute(0, 3, 1, 2).to(self.dtype)
            return tensor_scores(self._run(t).float(), returns, score, **TORCH_OPS)

        return scores

    def gradient_function(self, adapter, example):
        import torch

        scores = self.score_tensor_function(adapter)

        def fn(x, weights):
            xt = torch.tensor(np.asarray(x, np.float32), device=self.device, requires_grad=True)
            w = torch.as_tensor(np.asarray(weights, np.float32), device=self.device)
            with torch.enable_grad():
                out = scores(xt)
                (g,) = torch.autograd.grad((out * w[None, :]).sum(), xt)
            return (g.detach().cpu().numpy().astype(np.float64),
                    out.detach().cpu().numpy().astype(np.float64))

        with torch.no_grad():
            out0 = scores(torch.tensor(np.asarray(example, np.float32)[:1], device=self.device))
        return fn, int(out0.shape[1]), out0.cpu().numpy().astype(np.float64)

    # -- Grad-CAM ----------------------------------------------------------------------------------
    def gradcam_function(self, adapter, example, layer=None):
        """``fn(x, target) -> float64 [n, h', w']``: Grad-CAM maps (ReLU of the gradient-weighted
        channel sum) of the last 4-D feature map of the forward (or of sub-module ``layer``),
        for the adapter's score of ``target``; ``fn.n_classes``."""
        import torch

        from ..errors import ImacsInputError

        module = self.model
        mods = dict(module.named_modules())
        if layer is not None and layer not in mods:
            raise ImacsInputError("layer", f"model {adapter.name!r} has no sub-module {layer!r}")
        feats = {}

        def hook(name):
            def save(_m, _inp, out):
                if torch.is_tensor(out) and out.dim() == 4 and out.shape[2] * out.shape[3] > 1:
                    feats.pop(name, None)
                    feats[name] = out  # insertion order = order of the forward
            return save

        scores = self.score_tensor_function(adapter)
        device = self.device

        def run(x, target):
            feats.clear()
            names = [layer] if layer is not None else [n for n in mods if n]
            handles = [mods[n].register_forward_hook(hook(n)) for n in names]
            try:
                with torch.enable_grad():
                    xt = torch.tensor(np.asarray(x, np.float32), device=device,
                                      requires_grad=True)  # a graph even with frozen weights
                    out = scores(xt)
                    if not feats:
                        raise NotDifferentiable("no sub-module has a 4-D output")
                    f = feats[next(reversed(feats))]  # the last 4-D feature map of the forward
                    g, = torch.autograd.grad(out[:, int(target)].sum(), f)
            finally:
                for hd in handles:
                    hd.remove()
            weights = g.mean(dim=(2, 3), keepdim=True)
            cam = torch.relu((weights * f).sum(dim=1))
            adapter.n_evals += len(x)
            return cam.detach().cpu().double().numpy()

        with torch.no_grad():
            run.n_classes = int(scores(torch.tensor(np.asarray(example, np.float32)[:1],
                                                    device=device)).shape[1])
        return run

    # -- weight randomisation (the sanity check) -------------------------------------------------
    def weighted_layers(self) -> list[str]:
        """Names of the sub-modules with parameters of their own, output first."""
        return [n for n, m in reversed(list(self.model.named_modules()))
                if next(m.parameters(recurse=False), None) is not None]

    def randomized_copy(self, names, noise):
        """A deep copy of the module whose sub-modules ``names`` have every parameter ``w``
        replaced by ``noise(j)(w)`` (``j``: the position in ``names``, one ``noise(j)`` per
        sub-module; buffers such as batch-norm running statistics kept)."""
        import copy

        import torch

        new = copy.deepcopy(self.model)
        mods = dict(new.named_modules())
        with torch.no_grad():
            for j, name in enumerate(names):
                draw = noise(j)
                for p in mods[name].parameters(recurse=False):
                    w = p.detach().cpu().float().numpy()
                    p.copy_(torch.from_numpy(draw(w)).to(p.dtype))
        return new
