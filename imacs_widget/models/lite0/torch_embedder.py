"""The PyTorch EfficientNet-Lite0 embedder: segment crops cut, resized and embedded on a device.

:class:`TorchLite0Embedder` follows the engine's embedder contract (``embedder(crops)`` on
``uint8 [n, 224, 224, 3]`` crops -> ``float32 [n, 1280]``) and adds :meth:`embed_regions`, which
the embedding stage prefers: it uploads a chunk's images and label maps once and cuts each
segment's crop on the model's device — the bbox, pixels outside the segment set to the segment's
mean colour, a bilinear, antialiased resize to 224 x 224 rounded to 8 bits like the PIL path of
:func:`~imacs_widget.engine.crops.segment_crop` (within one grey level) — then embeds full
batches. PyTorch is imported when an embedder is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...errors import ImacsInputError
from .weights import EMBEDDING_DIM, INPUT_SIZE


class TorchLite0Embedder:
    """EfficientNet-Lite0 pooled features (1280-d) from the PyTorch rebuild.

    Parameters
    ----------
    device : str or torch.device, optional
        Where the model runs and crops are cut (default: CUDA when available, else CPU).
    batch_size : int
        Crops per forward pass.

    Attributes
    ----------
    name : str
        ``"efficientnet_lite0_torch"`` (recorded in a result's params).
    input_size : int
        224.
    """

    name = "efficientnet_lite0_torch"
    input_size = INPUT_SIZE
    dim = EMBEDDING_DIM

    def __init__(self, device=None, batch_size: int = 64):
        import torch

        from .torch_rebuild import load_efficientnet_lite0_torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.model = load_efficientnet_lite0_torch().to(self.device)

    def __reduce__(self):  # a copy sent to another process is rebuilt there, on its device
        return type(self), (None, self.batch_size)

    def _features(self, x) -> np.ndarray:
        """``float32 [n, 3, 224, 224]`` 0..255 device tensor -> checked ``[n, 1280]`` features."""
        import torch

        with torch.inference_mode():
            e = self.model.features((x - 127.0) / 128.0).float().cpu().numpy()
        if not np.isfinite(e).all():
            raise ImacsInputError("embedder", "returned NaN/inf features")
        return e

    def __call__(self, crops: np.ndarray, progress: Callable[[int], None] | None = None
                 ) -> np.ndarray:
        """Embed ``uint8 [n, 224, 224, 3]`` crops; ``float32 [n, 1280]``."""
        import torch

        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ImacsInputError("crops", f"expected [n, {INPUT_SIZE}, {INPUT_SIZE}, 3], got "
                                  f"{crops.shape}")
        parts = []
        for s in range(0, len(crops), self.batch_size):
            c = torch.from_numpy(np.ascontiguousarray(crops[s:s + self.batch_size]))
            x = c.to(self.device).permute(0, 3, 1, 2).float().contiguous()
            parts.append(self._features(x))
            if progress is not None:
                progress(len(c))
        return np.concatenate(parts) if parts else np.zeros((0, EMBEDDING_DIM), np.float32)

    def embed_regions(self, images: dict, keys: Sequence[tuple[int, int]], label_maps: dict,
                      bboxes: dict, pixel_range, progress: Callable[[int], None] | None = None
                      ) -> np.ndarray:
        """``float32 [n, 1280]``: each ``(image index, segment id)`` of ``keys`` cut from
        ``images`` (pixel scale, ``pixel_range`` mapped to 0..255 with 8-bit rounding) on the
        device and embedded. ``bboxes[i][sid]`` is the segment's ``(x0, y0, x1, y1)``."""
        import torch
        import torch.nn.functional as F

        lo, hi = (float(v) for v in pixel_range)
        size = (INPUT_SIZE, INPUT_SIZE)
        cur, img, lm = None, None, None
        batch, parts = [], []

        def flush():
            if batch:
                parts.append(self._features(torch.stack(batch)))
                if progress is not None:
                    progress(len(batch))
                batch.clear()

        with torch.inference_mode():
            for i, sid in keys:
                if i != cur:
                    cur = i
                    x = torch.from_numpy(np.ascontiguousarray(images[i], np.float32)).to(self.device)
                    x = ((x - lo) * (255.0 / (hi - lo))).round().clamp(0, 255)
                    img = x.permute(2, 0, 1).contiguous()  # [3, H, W] 0..255 whole numbers
                    lm = torch.from_numpy(np.ascontiguousarray(label_maps[i])).to(self.device)
                x0, y0, x1, y1 = (int(v) for v in bboxes[i][sid])
                patch = img[:, y0:y1, x0:x1]
                inside = lm[y0:y1, x0:x1] == int(sid)
                mean = patch[:, inside].mean(dim=1).floor()  # as uint8 conversion truncates
                patch = torch.where(inside[None], patch, mean[:, None, None])
                crop = F.interpolate(patch[None], size=size, mode="bilinear",
                                     align_corners=False, antialias=True)[0]
                batch.append(crop.round().clamp(0, 255))
                if len(batch) == self.batch_size:
                    flush()
            flush()
        return np.concatenate(parts) if parts else np.zeros((0, EMBEDDING_DIM), np.float32)
