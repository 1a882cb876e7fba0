"""check_docs.py finds what it promises: a chapter SUMMARY.md omits, a link to a missing file,
an anchor no heading has; and passes a book whose links all resolve."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_docs  # noqa: E402


class CheckDocs(unittest.TestCase):
    def book(self, files):
        root = tempfile.mkdtemp()
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        check_docs.ROOT, check_docs.BOOK = root, os.path.join(root, "docs", "src")
        check_docs._ANCHORS.clear()
        return root

    def base(self, **extra):
        files = {"README.md": "# Tool\n\n[RPO](docs/src/rpo.md#the-formula-make-rpo)\n", "CHANGELOG.md": "# C\n",
                 "BENCHMARKS.md": "# B\n", "docs/src/SUMMARY.md": "# Summary\n\n- [RPO](rpo.md)\n",
                 "docs/src/rpo.md": "# RPO\n\n## The formula (`make rpo`)\n\n```\n[not a link](nowhere.md)\n```\n"}
        files.update(extra)
        return files

    def test_a_book_whose_links_resolve_passes(self):
        self.book(self.base())
        self.assertEqual(check_docs.main(), 0)

    def test_a_missing_file_an_unknown_anchor_and_an_unlisted_chapter_fail(self):
        for extra in ({"docs/src/rpo.md": "# RPO\n\n[gone](missing.md)\n"},
                      {"README.md": "[RPO](docs/src/rpo.md#no-such-heading)\n"},
                      {"docs/src/extra.md": "# Not in the summary\n"}):
            with self.subTest(extra=list(extra)):
                self.book(self.base(**extra))
                self.assertEqual(check_docs.main(), 1)


if __name__ == "__main__":
    unittest.main()
