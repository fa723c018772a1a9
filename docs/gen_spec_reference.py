"""Regenerate the field tables of docs/spec.md from the spec's JSON schema.

Run ``python docs/gen_spec_reference.py`` after changing a spec section or a built-in
kind's parameters; ``tests/test_spec_reference.py`` fails while the committed page is stale.
Only built-in kinds are listed, so the page does not depend on installed plugins.
"""

from __future__ import annotations

import sys
from pathlib import Path

from emma_plugins.spec.reference import spec_reference_markdown

PAGE = Path(__file__).with_name("spec.md")
BEGIN = "<!-- BEGIN GENERATED REFERENCE: python docs/gen_spec_reference.py -->"
END = "<!-- END GENERATED REFERENCE -->"


def render(page: str) -> str:
    """``page`` with the text between the markers replaced by a fresh reference."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{spec_reference_markdown()}\n{END}{tail}"


def main() -> int:
    page = PAGE.read_text(encoding="utf-8")
    fresh = render(page)
    if "--check" in sys.argv[1:]:
        if fresh != page:
            print(f"{PAGE} is out of date: run python docs/gen_spec_reference.py")
            return 1
        return 0
    PAGE.write_text(fresh, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
