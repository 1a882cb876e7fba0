"""Checks the book and the top-level documents: every chapter under docs/src is in SUMMARY.md
and every SUMMARY entry exists; every relative link in them resolves to a file of the checkout,
and every #anchor to a heading (or an explicit `<a id>`) of its target, with the ids mdBook
and GitHub give headings. Prints each broken link with its file and line; exits 1 if any.

Usage: python scripts/check_docs.py   (from anywhere; `make test` runs it)
"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BOOK = os.path.join(ROOT, "docs", "src")
TOP = ["README.md", "CHANGELOG.md", "BENCHMARKS.md"]
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def slug(heading):
    """The id of a heading: lower case, links reduced to their text, punctuation dropped,
    spaces to hyphens (mdBook's and GitHub's rule for the characters these documents use)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def prose(path, keep_code=False):
    """(line number, text) of the lines outside code fences, inline code removed unless
    `keep_code` (a heading's id keeps the text of its code spans)."""
    fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            if not fence:
                yield number, line if keep_code else re.sub(r"`[^`]*`", "", line)


_ANCHORS = {}  # path -> the ids of its headings, read once


def anchors(path):
    cache = _ANCHORS
    if path not in cache:
        ids = set()
        for _, line in prose(path, keep_code=True):
            if line.startswith("#"):
                ids.add(slug(line.lstrip("#")))
            ids.update(re.findall(r'<a id="([^"]+)"></a>', line))
        cache[path] = ids
    return cache[path]


def check_links(path, problems):
    here = os.path.dirname(path)
    for number, line in prose(path):
        for _, target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # an address, not a file of the checkout
            file, _, fragment = target.partition("#")
            dest = path if not file else os.path.normpath(os.path.join(here, file))
            where = f"{os.path.relpath(path, ROOT)}:{number}"
            if not os.path.exists(dest):
                problems.append(f"{where}: {target}: no such file")
            elif fragment and dest.endswith(".md") and fragment not in anchors(dest):
                problems.append(f"{where}: {target}: no heading with the id '{fragment}' in {os.path.relpath(dest, ROOT)}")


def check_summary(problems):
    summary = os.path.join(BOOK, "SUMMARY.md")
    listed = set()
    for number, line in prose(summary):
        for _, target in LINK.findall(line):
            listed.add(os.path.normpath(os.path.join(BOOK, target)))
    for folder, _, files in os.walk(BOOK):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".md") and name != "SUMMARY.md" and path not in listed:
                problems.append(f"{os.path.relpath(path, ROOT)}: a chapter SUMMARY.md does not list")


def main():
    problems = []
    check_summary(problems)
    pages = [os.path.join(ROOT, name) for name in TOP]
    for folder, _, files in os.walk(BOOK):
        pages += [os.path.join(folder, name) for name in sorted(files) if name.endswith(".md")]
    for page in pages:
        check_links(page, problems)
    for problem in problems:
        print(f"check_docs: {problem}")
    print(f"check_docs: {len(pages)} pages, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
