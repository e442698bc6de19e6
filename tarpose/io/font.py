"""A 5x7 bitmap font (uppercase letters, digits and some punctuation) for labels drawn with
numpy alone: track ids, and the captions of the demo's pictures."""

from __future__ import annotations

import numpy as np

#: glyph rows, top to bottom, 5 bits each (the most significant bit is the leftmost pixel)
GLYPHS: dict[str, tuple[int, ...]] = {
    'A': (14, 17, 17, 31, 17, 17, 17),
    'B': (30, 17, 17, 30, 17, 17, 30),
    'C': (14, 17, 16, 16, 16, 17, 14),
    'D': (30, 17, 17, 17, 17, 17, 30),
    'E': (31, 16, 16, 30, 16, 16, 31),
    'F': (31, 16, 16, 30, 16, 16, 16),
    'G': (14, 17, 16, 23, 17, 17, 15),
    'H': (17, 17, 17, 31, 17, 17, 17),
    'I': (14, 4, 4, 4, 4, 4, 14),
    'J': (7, 2, 2, 2, 2, 18, 12),
    'K': (17, 18, 20, 24, 20, 18, 17),
    'L': (16, 16, 16, 16, 16, 16, 31),
    'M': (17, 27, 21, 21, 17, 17, 17),
    'N': (17, 17, 25, 21, 19, 17, 17),
    'O': (14, 17, 17, 17, 17, 17, 14),
    'P': (30, 17, 17, 30, 16, 16, 16),
    'Q': (14, 17, 17, 17, 21, 18, 13),
    'R': (30, 17, 17, 30, 20, 18, 17),
    'S': (15, 16, 16, 14, 1, 1, 30),
    'T': (31, 4, 4, 4, 4, 4, 4),
    'U': (17, 17, 17, 17, 17, 17, 14),
    'V': (17, 17, 17, 17, 17, 10, 4),
    'W': (17, 17, 17, 21, 21, 21, 10),
    'X': (17, 17, 10, 4, 10, 17, 17),
    'Y': (17, 17, 10, 4, 4, 4, 4),
    'Z': (31, 1, 2, 4, 8, 16, 31),
    '0': (14, 17, 19, 21, 25, 17, 14),
    '1': (4, 12, 4, 4, 4, 4, 14),
    '2': (14, 17, 1, 2, 4, 8, 31),
    '3': (31, 2, 4, 2, 1, 17, 14),
    '4': (2, 6, 10, 18, 31, 2, 2),
    '5': (31, 16, 30, 1, 1, 17, 14),
    '6': (6, 8, 16, 30, 17, 17, 14),
    '7': (31, 1, 2, 4, 8, 8, 8),
    '8': (14, 17, 17, 14, 17, 17, 14),
    '9': (14, 17, 17, 15, 1, 2, 12),
    '-': (0, 0, 0, 31, 0, 0, 0),
    ':': (0, 12, 12, 0, 12, 12, 0),
    '.': (0, 0, 0, 0, 0, 12, 12),
    ',': (0, 0, 0, 0, 12, 4, 8),
    '(': (2, 4, 8, 8, 8, 4, 2),
    ')': (8, 4, 2, 2, 2, 4, 8),
    '/': (0, 1, 2, 4, 8, 16, 0),
    '%': (24, 25, 2, 4, 8, 19, 3),
    '+': (0, 4, 4, 31, 4, 4, 0),
    '=': (0, 0, 31, 0, 31, 0, 0),
    '#': (10, 10, 31, 10, 31, 10, 10),
    '?': (14, 17, 1, 2, 4, 0, 4),
    '!': (4, 4, 4, 4, 4, 0, 4),
    "'": (4, 4, 8, 0, 0, 0, 0),
    '_': (0, 0, 0, 0, 0, 0, 31),
    '<': (2, 4, 8, 16, 8, 4, 2),
    '>': (8, 4, 2, 1, 2, 4, 8),
    " ": (0, 0, 0, 0, 0, 0, 0),
}
WIDTH, HEIGHT = 5, 7


def text_mask(text: str) -> np.ndarray:
    """The pixels of ``text`` (lowercase is drawn as uppercase): a bool ``(7, 6 * len - 1)`` array,
    one blank column between characters."""
    text = text.upper()
    unknown = sorted(set(text) - set(GLYPHS))
    if unknown:
        raise ValueError(f"the label font has no {unknown}; it has A-Z, 0-9 and {''.join(sorted(set(GLYPHS) - set('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')))}")
    if not text:
        return np.zeros((HEIGHT, 0), dtype=bool)
    columns = []
    for i, ch in enumerate(text):
        glyph = np.array([[(row >> (WIDTH - 1 - c)) & 1 for c in range(WIDTH)] for row in GLYPHS[ch]], dtype=bool)
        columns.append(glyph)
        if i < len(text) - 1:
            columns.append(np.zeros((HEIGHT, 1), dtype=bool))
    return np.concatenate(columns, axis=1)
