#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the spec cases in
tests/it/parser_rules.rs, the demo stream in assets/, and a few game-command scripts, framed as
each target reads its input. Run from the repository root; the output is committed."""

import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def rust_bytes(literal: str) -> bytes:
    """Decodes the body of a Rust byte string literal."""
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = literal[i + 1]
        simple = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", '"': b'"', "0": b"\0", "'": b"'"}
        if nxt in simple:
            out += simple[nxt]
            i += 2
        elif nxt == "x":
            out.append(int(literal[i + 2 : i + 4], 16))
            i += 4
        elif nxt == "\n":
            # A line continuation: skip the newline and the indentation.
            i += 2
            while i < len(literal) and literal[i] in " \t\n":
                i += 1
        else:
            raise ValueError(f"escape \\{nxt}")
    return bytes(out)


def streams() -> list[bytes]:
    source = (ROOT / "tests" / "it" / "parser_rules.rs").read_text()
    found = [rust_bytes(m) for m in re.findall(r'\bb"((?:[^"\\]|\\.|\\\n)*)"', source, re.S)]
    found.append((ROOT / "assets" / "demo.sse").read_bytes()[:4096])
    return [s for s in found if s]


def write(target: str, seeds: list[bytes]) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)


def main() -> None:
    spec = streams()
    # parser: settings byte, cut count, cuts, stream.
    write("parser", [bytes([0, 0]) + s for s in spec] + [bytes([1, 1, 3, 0]) + s for s in spec])
    # response: status, content type, retry-after, shape; 0xFF cuts the body into chunks.
    write("response", [bytes([0, 0, 250, 0]) + s for s in spec]
          + [bytes([5, 1, 0, 0]) + b"sorry", bytes([0, 4, 250, 0]) + b"{}",
             bytes([0, 0, 250, 2]) + b"data: a\n\n\xffdata: [DONE]\n\n"])
    # lifecycle: (op, arg) pairs; see fuzz_targets/lifecycle.rs.
    open_and_stream = bytes([0, 0, 4, 0, 5, 0, 0, 0, 7, 0, 0, 3, 19, 60, 0, 0])
    refresh = bytes([0, 0, 17, 9, 8, 0, 0, 0, 0, 0, 4, 0, 0, 0])
    handler = bytes([0, 0, 15, 3, 4, 0, 5, 4, 0, 0, 0, 0])
    pause = bytes([0, 0, 18, 0, 4, 0, 7, 0, 19, 50, 0, 1, 14, 0, 0, 0, 14, 0, 0, 0])
    write("lifecycle", [open_and_stream, refresh, handler, pause])


if __name__ == "__main__":
    main()
