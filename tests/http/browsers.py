"""The browser the page tests drive: Debian's chromium (Playwright never downloads one).

On a user's machine without it the browser tests skip; under CI=true they fail."""

from __future__ import annotations

import os
import shutil

import pytest


def chromium_binary() -> str | None:
    return next((found for name in ("chromium", "chromium-browser")
                 if (found := shutil.which(name))), None)


def need_chromium(*, playwright: bool = False) -> str:
    """The chromium binary (and, when asked, the playwright package), or skip/fail."""
    chromium = chromium_binary()
    missing = "no chromium binary (Debian: apt-get install chromium; ops/setup.sh does)"
    if playwright:
        try:
            import playwright.sync_api
        except ImportError:
            missing = "no playwright package (pip install 'questlog[dev]')"
            chromium = None
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    return chromium
