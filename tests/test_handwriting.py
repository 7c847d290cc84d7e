"""The handwritten-digit networks (extractors/handwriting.py): their decoding, output shape,
and what they read between print cut by a blank's edges (real blanks: tests/test_realdocs.py;
the generator's pen digits: tests/test_generated_patterns.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from kiemchung.extractors.handwriting import (
    HEIGHT,
    NETWORKS,
    decode,
    network_input,
    read_handwritten,
    scores,
)
from kiemchung.extractors.written_digits import _read_blank
from samples.render import font_file

BLANK, DIGIT = 0, 1          # class 0 is CTC's blank; class d + 1 is the digit d


def _columns(*labels: int) -> np.ndarray:
    probabilities = np.full((len(labels), 11), 0.01)
    for column, label in enumerate(labels):
        probabilities[column, label] = 0.9
    return probabilities


def test_decoding_merges_repeats_and_drops_blanks():
    # 5 5 _ 7 _ 5 → 575; 2 _ 2 → 22 (a blank between repeats keeps both)
    assert decode(_columns(DIGIT + 5, DIGIT + 5, BLANK, DIGIT + 7, BLANK, DIGIT + 5)) == \
        ("575", round(0.9 ** 3, 3))
    assert decode(_columns(DIGIT + 2, BLANK, DIGIT + 2))[0] == "22"
    assert decode(_columns(BLANK, BLANK)) is None


def test_the_network_gives_one_column_of_probabilities_every_four_pixels():
    ink = network_input(Image.new("RGB", (300, 150), "white"))
    assert ink.shape == (HEIGHT, 80)
    probabilities = scores(ink)
    assert probabilities.shape == (20, 11)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def _printed_blank(before: str, written: str, after: str) -> Image.Image:
    """A blank as the extractor cuts it at 400 dpi: print at both edges, `written` between
    them larger and slanted (Liberation Serif Italic)."""
    image = Image.new("RGB", (420, 150), "white")
    draw = ImageDraw.Draw(image)
    print_font = ImageFont.truetype(font_file("R"), 64)
    draw.text((-30, 50), before, fill=(20, 20, 20), font=print_font)
    if written:
        pen = ImageFont.truetype(font_file("I"), 96)
        draw.text((70, 20), written, fill=(30, 40, 150), font=pen)
    draw.text((330, 50), after, fill=(20, 20, 20), font=print_font)
    return image


def test_print_cut_by_the_edges_of_an_empty_blank_is_no_digit():
    assert read_handwritten(_printed_blank("ngày", "", "tháng")) == []
    assert read_handwritten(_printed_blank("Số:", "", "/BC")) == []


@pytest.mark.parametrize("network", NETWORKS, ids=lambda path: path.stem)
@pytest.mark.parametrize("digits", ["22", "575"])
def test_each_network_reads_digits_between_cut_print(digits, network):
    read = decode(scores(network_input(_printed_blank("ngày", digits, "/BC")), network))
    assert read is not None and read[0] == digits


def test_the_surest_reading_comes_first():
    reads = read_handwritten(_printed_blank("ngày", "575", "/BC"))
    assert reads and reads[0][0] == "575"
    assert [certainty for _, certainty in reads] == sorted(
        (certainty for _, certainty in reads), reverse=True)


def test_a_day_that_cannot_be_gives_way_to_the_other_networks_reading():
    # The second network takes this italic 1 for a 4, surer than the first reads 14: as a
    # day, 44 cannot be, and the first network's reading is taken.
    blank = _printed_blank("ngày", "14", "/BC")
    assert [digits for digits, _ in read_handwritten(blank)] == ["44", "14"]
    assert _read_blank(blank, is_day=True) == ("14", pytest.approx(0.5 * 0.505, abs=0.01))
