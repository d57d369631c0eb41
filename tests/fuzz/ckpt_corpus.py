"""Seeded generators of hostile and mutated checkpoints for the checkpoint fuzz suite.

Every input is a `Case`: a kind (a row of the counts table), a label saying exactly what it is,
the seed it was made from, and a function that writes it into a folder. The same seed number
gives the same inputs, so a failure is reproduced by its label alone. The kinds:

- seed: the real checkpoints every other input is made from, unchanged (also the warm-up);
- payload, payload-legacy: pickles that would run code (create the canary file) or call, build
  or mutate something, as the data.pkl of a real zip checkpoint and inside a legacy file;
- legacy: objects whose pickling runs code, saved by torch in its legacy (non-zip) format;
- byte-flip: real checkpoints (zip and legacy) with a few bytes flipped, cut or inserted,
  half of them inside data.pkl (the rest mostly hits a CRC);
- structure, structure-legacy: real checkpoints of each trainer, loaded with torch, with a wrong
  type (or nothing) at a random key path, saved again by torch;
- zip: archives torch.save never writes (alignment, names, offsets, sizes, compression, ...);
- bomb: inputs that cost far more than their size to expand (memo, ints, shared references,
  nesting, claimed sizes);
- hf: hostile Hugging Face Trainer folders (trainer_state.json, safetensors header,
  scheduler.pt and optimizer.pt);
- special: paths that are not regular files (FIFO, device, socket, links, folders).
"""

from __future__ import annotations

import io
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

from ckpt_bytes import pickle_region, write_file
from ckpt_hostile import (
    Case,
    bomb_cases,
    hf_cases,
    legacy_cases,
    payload_cases,
    special_cases,
    zip_cases,
)
from ckpt_mutants import (
    HF_SEED,
    LEGACY_SEEDS,
    ZIP_SEEDS,
    mutate,
    save_legacy,
    save_zip,
    torch_tree,
)

# Inputs per kind at scale 1 (the CI run); the enumerated kinds are fixed lists.
SAMPLED = {"byte-flip": 250, "structure": 600, "structure-legacy": 180, "hf": 30}

def byte_flip_cases(rng: random.Random, count: int) -> Iterator[Case]:
    names = sorted(ZIP_SEEDS)
    for i in range(count):
        seed = rng.choice(names)
        legacy = rng.random() < 0.25
        how = rng.choice(["flip", "flip", "flip", "cut", "insert"])
        in_pickle = rng.random() < 0.5 and not legacy
        r = random.Random(rng.getrandbits(64))
        label = (f"{seed}{' (legacy)' if legacy else ''}: {how}"
                 f"{' in data.pkl' if in_pickle else ''} #{i}")
        yield Case("byte-flip", label, seed,
                   lambda d, seed=seed, legacy=legacy, how=how, in_pickle=in_pickle, r=r:
                   _flipped(d, seed, legacy, how, in_pickle, r))


def _flipped(folder: Path, seed: str, legacy: bool, how: str, in_pickle: bool,
             rng: random.Random) -> Path:
    source = (LEGACY_SEEDS if legacy else ZIP_SEEDS)[seed]
    raw = bytearray(source.read_bytes())
    start, length = pickle_region(source) if in_pickle else (0, len(raw))
    at = start + rng.randrange(length)
    if how == "flip":
        for _ in range(rng.randint(1, 4)):
            raw[at] ^= 1 << rng.randrange(8)
            at = start + rng.randrange(length)
    elif how == "cut":
        del raw[at:]
    else:
        raw[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
    return write_file(folder / f"flipped{source.suffix}", bytes(raw))


def structure_cases(rng: random.Random, count: int, legacy: bool) -> Iterator[Case]:
    kind = "structure-legacy" if legacy else "structure"
    names = sorted(ZIP_SEEDS)
    trees = {name: torch_tree(path) for name, path in ZIP_SEEDS.items()}
    for i in range(count):
        seed = names[i % len(names)]
        tree, what = mutate(trees[seed], rng)
        label = f"{seed}{' (legacy)' if legacy else ''}: {what}"
        save = save_legacy if legacy else save_zip
        buffer = io.BytesIO()
        save(tree, buffer)
        data = buffer.getvalue()
        yield Case(kind, label, seed,
                   lambda d, data=data, seed=seed: write_file(d / ZIP_SEEDS[seed].name, data))


def seed_cases() -> Iterator[Case]:
    """The seeds themselves (zip, saved again as legacy files, the HF folder): what every
    input is made from."""
    for name, path in ZIP_SEEDS.items():
        yield Case("seed", name, name, lambda d, path=path: write_file(d / path.name,
                                                                       path.read_bytes()))
        yield Case("seed", f"{name} (legacy)", name, lambda d, path=LEGACY_SEEDS[name]:
                   write_file(d / path.name, path.read_bytes()))
    yield Case("seed", "hf-checkpoint-6", "hf", lambda d: Path(shutil.copytree(
        HF_SEED, d / HF_SEED.name)))


def corpus(canary: Path, seed: int = 9, scale: float = 1.0,
           kinds: set[str] | None = None) -> Iterator[Case]:
    """All inputs, kind by kind; `scale` multiplies the sampled kinds' counts."""
    rng = random.Random(seed)
    sampled = {k: max(1, round(n * scale)) for k, n in SAMPLED.items()}
    generators = {
        "seed": seed_cases,
        "payload": lambda: payload_cases(canary),
        "legacy": lambda: legacy_cases(canary),
        "byte-flip": lambda: byte_flip_cases(random.Random(rng.random()), sampled["byte-flip"]),
        "structure": lambda: structure_cases(random.Random(rng.random()), sampled["structure"],
                                             legacy=False),
        "structure-legacy": lambda: structure_cases(random.Random(rng.random()),
                                                    sampled["structure-legacy"], legacy=True),
        "zip": zip_cases,
        "bomb": bomb_cases,
        "hf": lambda: hf_cases(random.Random(rng.random()), sampled["hf"]),
        "special": special_cases,
    }
    for name, make in generators.items():
        cases = make()  # every generator draws its seed, so kinds stay the same when filtered
        if kinds is None or name in kinds or (name == "payload" and "payload-legacy" in kinds):
            yield from (c for c in cases if kinds is None or c.kind in kinds)


KINDS = ("seed", "payload", "payload-legacy", "legacy", "byte-flip", "structure",
         "structure-legacy", "zip", "bomb", "hf", "special")
