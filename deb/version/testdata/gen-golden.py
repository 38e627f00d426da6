#!/usr/bin/env python3
"""Regenerate compare.golden: version pairs with dpkg's own verdict.

Usage: python3 gen-golden.py ../../../../shared/testdata/debian-bookworm > compare.golden

Pairs come from the real versions in the fixture's three Packages indexes:
every pair of versions of one package name across the sources, neighbours in
sorted order (they differ in small ways), pairs of versions sharing a source
package, a fixed-seed random sample, and the hand-written edge cases below.
Each verdict is what `dpkg --compare-versions` says (lt, then eq), never what
grey computes. Output lines: "V1 V2 R" with R one of < = >.
"""
import lzma, os, random, subprocess, sys

EDGE = [
    ("1.0", "1.0-0"), ("1.0-1", "1.0"), ("1.0", "1.0~rc1"), ("1.0~rc1", "1.0~~"),
    ("1.0~~", "1.0~~a"), ("1.0~", "1.0"), ("1.0~~", "1.0~"), ("0:1.0", "1.0"),
    ("1:1.0", "2.0"), ("1:0.1", "0:9.9"), ("2:1", "10:0"), ("1.0+b1", "1.0"),
    ("1.0-1+b1", "1.0-1"), ("1.0-1+b1", "1.0-2"), ("1.0-1", "1.0-1~bpo1"),
    ("1.0a", "1.0"), ("1.0a", "1.0+"), ("1.0.", "1.0"), ("1.0", "1.00"),
    ("1.01", "1.1"), ("1.001", "1.1"), ("1.0-1.1", "1.0-1"), ("10", "9"),
    ("1.2.3", "1.2.10"), ("1:1.0-1", "1:1.0-1"), ("0.9", "0.10"),
    ("1.0+dfsg-1", "1.0-1"), ("1.0~dfsg-1", "1.0-1"),
    ("1.0-a", "1.0-B"), ("1.0-1ubuntu1", "1.0-1"), ("1.0+deb12u1", "1.0+deb11u2"),
    ("2.36-9+deb12u14", "2.36-9+deb12u9"), ("1:1.2.13.dfsg-1", "1:1.2.13-1"),
    ("1:1.35.0-4+deb12u1+b1", "1:1.35.0-4+deb12u1"), ("7.0.0-1+b2", "7.0.0-1"),
    ("1.0-0", "1.0-00"), ("0", "00"), ("1~", "1~0"), ("1-1-1", "1-1"),
    ("1.0.0~beta1+git20200101", "1.0.0~beta1"), ("9999", "10000"),
    ("4294967295", "4294967296"), ("1.0+~", "1.0+"), ("1.0~+", "1.0~"),
    ("3.0-1", "3.0-1~"), ("1.0Z", "1.0a"), ("1.0.a", "1.0a"),
]


def versions(root):
    out = []
    for rel in ("debian/dists/bookworm/main/binary-amd64/Packages.xz",
                "debian/dists/bookworm-updates/main/binary-amd64/Packages.xz",
                "debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz"):
        name = src = None
        with lzma.open(os.path.join(root, rel), "rt", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Package: "):
                    name = line[9:].strip()
                    src = name
                elif line.startswith("Source: "):
                    src = line[8:].strip().split(" ")[0]
                elif line.startswith("Version: "):
                    out.append((name, src, line[9:].strip()))
    return out


def verdict(a, b):
    if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
        return "<"
    if subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
        return "="
    return ">"


def main():
    root = sys.argv[1]
    recs = versions(root)
    pairs = list(EDGE)
    byname, bysrc = {}, {}
    for name, src, v in recs:
        byname.setdefault(name, []).append(v)
        bysrc.setdefault(src, set()).add(v)
    for vs in byname.values():
        for i in range(len(vs)):
            for j in range(i + 1, len(vs)):
                pairs.append((vs[i], vs[j]))
    uniq = sorted({v for _, _, v in recs})
    pairs += [(uniq[i], uniq[i + 1]) for i in range(len(uniq) - 1)]
    rng = random.Random(20261126)
    for vs in sorted(bysrc.values(), key=lambda s: sorted(s)):
        vs = sorted(vs)
        if len(vs) > 1:
            a, b = rng.sample(vs, 2)
            pairs.append((a, b))
    while len(pairs) < 24000:
        pairs.append((rng.choice(uniq), rng.choice(uniq)))
    seen, out = set(), []
    for a, b in pairs:
        if (a, b) in seen:
            continue
        seen.add((a, b))
        out.append((a, b))
    print("# version pairs with dpkg --compare-versions' verdict; made by gen-golden.py")
    for a, b in out:
        print(a, b, verdict(a, b))


main()
