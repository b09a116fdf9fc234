"""Rebuild ``.dvc/plots/offline.html``: DVC's plot page with vega, vega-lite and vega-embed inside.

``dvc plots show`` normally writes a page that loads vega from a CDN: without internet
it is blank. ``.dvc/config`` points DVC at ``.dvc/plots/offline.html`` instead, which holds
the three libraries (BSD-3-Clause, University of Washington Interactive Data Lab)
inline. The page is committed, so a fresh clone renders plots offline with no build
step and no Node.js; this script is how it was made, and how to move to new versions:

    python .dvc/plots/build_offline_template.py      # needs npm and the npm registry

It fetches each pinned tarball with ``npm pack``, checks it against the pinned
integrity hash (so the committed page holds exactly these releases), and writes the
page. The 5.x lines are the ones DVC's specs are written for (``vega-lite/v5.json``).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# package, version, file inside the tarball, npm's sha512 integrity of the tarball
PACKAGES = (
    (
        "vega",
        "5.33.1",
        "package/build/vega.min.js",
        "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
    ),
    (
        "vega-lite",
        "5.23.0",
        "package/build/vega-lite.min.js",
        "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
    ),
    (
        "vega-embed",
        "6.29.0",
        "package/build/vega-embed.min.js",
        "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
    ),
)

# DVC's plot divs call vegaEmbed(id, spec): render as SVG (crisp, inspectable) and leave
# out the "open in the online editor" action, which would need the internet.
EMBED_DEFAULTS = """
(function () {
  var embed = window.vegaEmbed;
  window.vegaEmbed = function (el, spec, opt) {
    var options = Object.assign(
      {renderer: "svg", actions: {export: true, source: true, compiled: false, editor: false}},
      opt || {});
    return embed(el, spec, options).catch(function (err) {
      document.querySelector(el).textContent = "This plot could not be drawn: " + err;
    });
  };
})();
"""

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC plots</title>
<!-- Made by .dvc/plots/build_offline_template.py. Bundled so the page needs no network:
{versions}
Each is BSD-3-Clause, Copyright (c) 2015, University of Washington Interactive Data
Lab; the licence is in .dvc/plots/LICENSES.md. -->
{scripts}
<script>{embed}</script>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 16px; }}
  body > div {{ display: inline-block; vertical-align: top; margin: 0 24px 24px 0; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def fetch(name: str, version: str, member: str, integrity: str, workdir: Path) -> str:
    subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--silent"], cwd=workdir, check=True,
        capture_output=True,
    )
    tarball = workdir / f"{name}-{version}.tgz"
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != integrity:
        raise SystemExit(f"{tarball.name}: integrity sha512-{digest} is not the pinned {integrity}")
    with tarfile.open(tarball) as tar:
        return tar.extractfile(member).read().decode("utf-8")


def main() -> None:
    scripts, versions = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, member, integrity in PACKAGES:
            code = fetch(name, version, member, integrity, Path(tmp))
            if "</script" in code:
                raise SystemExit(f"{name} {version}: '</script' inside the code, cannot inline")
            scripts.append(f"<script>/* {name} {version} (BSD-3-Clause) */\n{code}\n</script>")
            versions.append(f"  {name} {version} ({integrity[:20]}...)")
    page = PAGE.format(versions="\n".join(versions), scripts="\n".join(scripts),
                       embed=EMBED_DEFAULTS)
    (HERE / "offline.html").write_text(page, encoding="utf-8")
    print(f"wrote {HERE / 'offline.html'} ({len(page):,} bytes)")  # noqa: T201


if __name__ == "__main__":
    main()
