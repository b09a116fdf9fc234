"""Churn and loyalty pipeline for e-commerce shops."""

import os as _os
import platform as _platform
import sys as _sys

__version__ = "0.1.0"

# The same numbers on every x86 machine. NumPy picks its vectorised exp, log and sums at
# run time by what the CPU offers, and its AVX-512 versions round differently in the
# last bits from the AVX2 ones: on UCI Online Retail the forward test's AUC was 0.7757
# on one machine and 0.7753 on another from the same data and params. Without AVX-512
# every x86-64 machine of the last decade takes the same path. Set here, before NumPy is
# imported by anything of ours (the Makefile and bin/stage set it too, for tools that
# import NumPy first); a value of your own is left alone. Where NumPy came first (a
# notebook's `import numpy`), it has chosen already: the variable is set empty, so the
# worker processes a fit starts (which inherit it) take the path their parent took.
if _platform.machine().lower() in ("x86_64", "amd64"):
    _os.environ.setdefault(
        "NPY_DISABLE_CPU_FEATURES",
        "" if "numpy" in _sys.modules else "X86_V4 AVX512_ICL AVX512_SPR",
    )
