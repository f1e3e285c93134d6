"""Feature images (the FinNeX "mega-image") from input windows, one vectorised op per batch.

Channel ``c`` is one feature group (``InputInfo.image_groups``: trend, volume, volatility,
whichever are non-empty); its rows are the features listed for it in ``InputInfo.image_rows``
(the group's own features plus the stock-level context features filed under it, see
:func:`finmt_core.data.prepare.image_rows`), its columns the T days of the window. Channels
with fewer rows than the largest are zero-padded at the bottom, then every channel is resized
to ``image_size x image_size`` with ``InputInfo.image_resize``:

- ``"nearest"`` (new runs): nearest-exact resampling. Every pixel is one feature's value on one
  day, unblurred; when the image is larger than the rows/days, rows and days are repeated
  (when it is smaller, neighbouring rows/days are averaged, ``area``, so none is dropped).
- ``"bilinear"`` (``align_corners=False``; runs written before ``image_resize`` existed): neighbouring
  features and days are blended into each pixel.

Both resizings are separable and linear, so they are applied as two small matrix products
``A_h @ rows @ A_w`` whose matrices are built once by resizing identity matrices with
``torch.nn.functional.interpolate`` itself: the same numbers as calling ``interpolate`` on the
padded image, several times faster on CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from finmt_core.errors import ConfigError

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo

#: resize modes of :class:`ImageBuilder` -> ``interpolate`` mode when enlarging
RESIZE_MODES: dict[str, str] = {"bilinear": "bilinear", "nearest": "nearest-exact"}


def resize_matrix(n_in: int, n_out: int, mode: str = "bilinear") -> torch.Tensor:
    """``[n_out, n_in]`` matrix of 1-D resizing (a key of :data:`RESIZE_MODES`), from interpolate."""
    if mode not in RESIZE_MODES:
        raise ConfigError(f"image resize mode must be one of {sorted(RESIZE_MODES)}, got {mode!r}")
    eye = torch.eye(n_in, dtype=torch.float32)[None, None]  # [1, 1, n_in, n_in]
    if mode == "bilinear":
        return F.interpolate(eye, size=(n_out, n_in), mode="bilinear", align_corners=False)[0, 0]
    how = RESIZE_MODES[mode] if n_out >= n_in else "area"  # shrinking: average, never drop a row
    return F.interpolate(eye, size=(n_out, n_in), mode=how)[0, 0]


class ImageBuilder(nn.Module):
    """Turns windows ``[B, T, F]`` into images ``[B, C, S, S]``.

    Prefer :meth:`from_info`, which reads the channel rows and resize mode a run was trained with.
    A module without parameters: its index and resize matrices are non-persistent buffers, so a
    model can hold one (it follows ``.to(device)``) without changing its ``state_dict``.

    Args:
        groups: group -> feature column indices (``InputInfo.groups``).
        image_groups: channel order (``InputInfo.image_groups``).
        image_size: S.
        window: T (days per window).
        rows: channel -> feature columns of its rows (``InputInfo.image_rows``); None: each
            channel's rows are ``groups[channel]`` (the layout before ``image_rows`` existed).
        resize: ``"bilinear"`` or ``"nearest"`` (see the module docstring).
    """

    def __init__(self, groups: dict[str, list[int]], image_groups: list[str], image_size: int,
                 window: int, rows: dict[str, list[int]] | None = None, resize: str = "bilinear") -> None:
        super().__init__()
        if not image_groups:
            raise ConfigError(
                "feature images need at least one feature of the trend, volume or volatility group; "
                "the selected data.features have none. Add such features or choose a non-image model."
            )
        channel_rows = [(rows or groups)[g] for g in image_groups]
        h_max = max(len(r) for r in channel_rows)
        index = torch.zeros(len(channel_rows), h_max, dtype=torch.long)
        keep = torch.zeros(len(channel_rows), h_max, dtype=torch.float32)
        for c, cols in enumerate(channel_rows):  # a few channels, not data rows
            index[c, : len(cols)] = torch.as_tensor(cols, dtype=torch.long)
            keep[c, : len(cols)] = 1.0
        self.image_size = image_size
        self.window = window
        self.resize = resize
        self.index: torch.Tensor  # [C, Hmax] feature column of each image row (0 where padded)
        self.keep: torch.Tensor  # [C, Hmax] 1 for a real row, 0 for padding
        self.resize_h: torch.Tensor  # [C, S, Hmax] row resizing, zero padding folded in (zero weight)
        self.resize_w: torch.Tensor  # [T, S] time resizing
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("keep", keep, persistent=False)
        self.register_buffer("resize_h", resize_matrix(h_max, image_size, resize)[None] * keep[:, None, :],
                             persistent=False)
        self.register_buffer("resize_w", resize_matrix(window, image_size, resize).T.contiguous(), persistent=False)

    @classmethod
    def from_info(cls, info: InputInfo) -> ImageBuilder:
        """The builder of ``info`` (an InputInfo): its channels, rows, size, window and resize mode."""
        return cls(info.groups, info.image_groups, info.image_size, info.window,
                   rows=getattr(info, "image_rows", None), resize=getattr(info, "image_resize", "bilinear"))

    @property
    def channels(self) -> int:
        return int(self.index.shape[0])

    def raw(self, windows: torch.Tensor) -> torch.Tensor:
        """Un-resized images ``[B, C, Hmax, T]`` from windows ``[B, T, F]`` (padding rows are 0)."""
        b, t, _ = windows.shape
        c, h = self.index.shape
        rows = windows.index_select(2, self.index.reshape(-1)).view(b, t, c, h)  # [B, T, C, Hmax]
        return (rows.permute(0, 2, 3, 1) * self.keep[None, :, :, None].to(windows.dtype)).contiguous()

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, S, S]`` (the windows' dtype) from windows ``[B, T, F]``."""
        if windows.shape[1] != self.window:
            raise ConfigError(f"ImageBuilder was built for {self.window}-day windows, got {windows.shape[1]}")
        b = windows.shape[0]
        c, h = self.index.shape
        # Resize along time first on all features ([B, F, S]), then gather the group rows: the
        # gathered tensor is already contiguous and the larger product runs on fewer rows.
        cols = windows.transpose(1, 2) @ self.resize_w.to(windows.dtype)  # [B, F, S]
        rows = cols.index_select(1, self.index.reshape(-1)).view(b, c, h, self.image_size)
        return self.resize_h.to(windows.dtype) @ rows  # [C, S, Hmax] @ [B, C, Hmax, S] -> [B, C, S, S]
