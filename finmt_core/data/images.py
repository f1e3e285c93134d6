"""Feature images (the FinNeX "mega-image") from input windows, one vectorised op per batch.

Channel ``c`` is one feature group (``InputInfo.image_groups``: trend, volume, volatility,
whichever are non-empty); its rows are that group's features, its columns the T days of the
window. Groups with fewer features than the largest are zero-padded at the bottom, then every
channel is resized bilinearly to ``image_size x image_size``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from finmt_core.errors import ConfigError


class ImageBuilder:
    """Turns windows ``[B, T, F]`` into images ``[B, C, S, S]``.

    Args:
        groups: group -> feature column indices (``InputInfo.groups``).
        image_groups: channel order (``InputInfo.image_groups``).
        image_size: S.
    """

    def __init__(self, groups: dict[str, list[int]], image_groups: list[str], image_size: int) -> None:
        if not image_groups:
            raise ConfigError(
                "feature images need at least one feature of the trend, volume or volatility group; "
                "the selected data.features have none. Add such features or choose a non-image model."
            )
        rows = [groups[g] for g in image_groups]
        h_max = max(len(r) for r in rows)
        index = torch.zeros(len(rows), h_max, dtype=torch.long)
        keep = torch.zeros(len(rows), h_max, dtype=torch.float32)
        for c, cols in enumerate(rows):  # a few channels, not data rows
            index[c, : len(cols)] = torch.as_tensor(cols, dtype=torch.long)
            keep[c, : len(cols)] = 1.0
        self.index = index  # [C, Hmax] feature column of each image row (0 where padded)
        self.keep = keep  # [C, Hmax] 1 for a real row, 0 for padding
        self.image_size = image_size

    @property
    def channels(self) -> int:
        return int(self.index.shape[0])

    def raw(self, windows: torch.Tensor) -> torch.Tensor:
        """Un-resized images ``[B, C, Hmax, T]`` from windows ``[B, T, F]`` (padding rows are 0)."""
        b, t, _ = windows.shape
        c, h = self.index.shape
        rows = windows[:, :, self.index.reshape(-1)].reshape(b, t, c, h)  # [B, T, C, Hmax]
        rows = rows * self.keep.to(windows.dtype)
        return rows.permute(0, 2, 3, 1).contiguous()

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, S, S]`` float32 from windows ``[B, T, F]``."""
        s = self.image_size
        return F.interpolate(self.raw(windows), size=(s, s), mode="bilinear", align_corners=False)
