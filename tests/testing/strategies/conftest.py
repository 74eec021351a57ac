"""Hypothesis runs bounded and deterministic: a fixed profile, more examples on request.

``NETSERVE_HYPOTHESIS_EXAMPLES=1000 pytest tests/testing/strategies`` searches harder;
the default keeps the suite fast and every run the same (``derandomize=True``).
"""

from __future__ import annotations

import os

import pytest

hypothesis = pytest.importorskip("hypothesis")

#: Examples per property; the environment variable raises it for a thorough run.
MAX_EXAMPLES = int(os.environ.get("NETSERVE_HYPOTHESIS_EXAMPLES", "30"))

hypothesis.settings.register_profile(
    "netserve-ci",
    derandomize=True,
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a loaded machine is slow, not wrong
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
    database=None,  # nothing written to the work tree
    print_blob=False,
    # No "explain" phase: it traces every line of every shrunk run, seconds per failure.
    phases=[phase for phase in hypothesis.Phase if phase.name != "explain"],
)
hypothesis.settings.load_profile("netserve-ci")
