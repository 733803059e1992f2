"""Nothing heavy at import time: the projector and the search API import neither numpy nor torch."""

from __future__ import annotations

import json
import subprocess
import sys


def test_search_modules_import_lightly() -> None:
    code = (
        "import json, sys\n"
        "import questlog.projections.search_index, questlog.search.api, questlog.cli.search\n"
        "from questlog.search import backend_report\n"
        "from questlog.settings import Settings\n"
        "report = backend_report(Settings())\n"
        "print(json.dumps({'heavy': sorted(m for m in ('numpy', 'torch', 'sentence_transformers')"
        " if m in sys.modules), 'active': report['active'], 'model_loaded': report['model_loaded']}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    out = json.loads(done.stdout)
    assert out == {"heavy": [], "active": "sqlite-vec", "model_loaded": False}
