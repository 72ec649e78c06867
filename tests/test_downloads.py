"""The download and extraction code, tested offline: every download comes from an HTTP server the test starts on
127.0.0.1 (in a thread), serving archives made in the test's tmp dir. The server supports `Range` requests (or can be
told not to, or to cut a transfer short), so resuming, restarting and interrupted transfers are all exercised."""
import hashlib
import http.server
import io
import random
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

import fitlam.data as data
import fitlam.downloads as downloads
from fitlam.core import FitlamError


class FileHandler(http.server.BaseHTTPRequestHandler):
    "Serves the files of `server.folder`; honours `Range: bytes=N-` unless `server.ranges` is False."

    def log_message(self, *args): pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        path = server.folder / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body, start = path.read_bytes(), 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if wanted and server.ranges:
            start = int(wanted[1])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        if server.cut_after is not None:  # simulate a dropped connection, once
            payload, server.cut_after = payload[:server.cut_after], None
        if server.chunked:   # chunked transfer: the body announces each piece; a cut body lacks the final 0-size chunk
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            server.bytes_sent += len(payload)
            self.wfile.write(f"{len(body) - start:x}\r\n".encode() + payload)   # the chunk's size promises the whole body
            return
        if server.send_length: self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        # count before writing: the client can finish reading before this thread runs another line
        server.bytes_sent += len(payload)
        self.wfile.write(payload)


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/'www'; yields it with `.url`, `.requests`, `.bytes_sent`, `.ranges`, `.cut_after`,
    `.chunked` (send the body with chunked transfer encoding) and `.send_length` (False: no Content-Length)."""
    folder = tmp_path / "www"
    folder.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    srv.folder, srv.requests, srv.bytes_sent, srv.ranges, srv.cut_after = folder, [], 0, True, None
    srv.chunked, srv.send_length = False, True
    srv.url = f"http://127.0.0.1:{srv.server_port}"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    "Every test gets an empty cache, and 127.0.0.1 bypasses any proxy set in the environment."
    monkeypatch.setenv("FITLAM_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def make_tgz(path: Path, files: dict, top: str = "pkg") -> Path:
    "A .tgz at `path` holding `files` (name -> bytes) under the folder `top`."
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def fixture_archive(server) -> tuple[Path, str]:
    "A small .tgz (bigger than one read block, so progress and resuming have something to do) and its sha256."
    payload = random.Random(0).randbytes(300_000)  # incompressible, so the .tgz is about 300 kB
    path = make_tgz(server.folder / "fixture.tgz", {"a.txt": b"hello\n", "b/data.bin": payload})
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------------------- the registry
def test_online_sources_are_registered_without_invented_hashes():
    urls = {name: src.url for name, src in downloads.ONLINE_SOURCES.items()}
    assert urls == {"imdb": "https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz",
                    "wt103-fwd": "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd.tgz",
                    "wt103-bwd": "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-bwd.tgz"}
    assert all(src.sha256 is None for src in downloads.ONLINE_SOURCES.values())


def test_nothing_downloads_by_default(monkeypatch):
    def no_network(*args, **kwargs): raise AssertionError("tried to open a URL")
    monkeypatch.setattr(downloads.urllib.request, "urlopen", no_network)
    with pytest.raises(FitlamError, match="download=True"):
        data.load_dataset("imdb_full")
    data.load_task_data(data.load_preset("quick"))  # the default dataset never touches the network
    assert "imdb_full" not in data.available_datasets()


# ---------------------------------------------------------------------------------------------- download
def test_download_verifies_and_renames(server, tmp_path):
    archive, sha = fixture_archive(server)
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, progress=True)
    assert dest == tmp_path / "cache" / "fixture.tgz"  # into cache_dir() by default
    assert dest.read_bytes() == archive.read_bytes()
    assert listing(dest.parent) == ["fixture.tgz"]  # no .part left
    # already there and still matching: no second request
    n = len(server.requests)
    assert downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha) == dest
    assert len(server.requests) == n


def test_download_progress_into_a_log_is_one_plain_line(server, tmp_path, capsys):
    "Outside a terminal or notebook (here stdout is a buffer, as in `... > log`) no bar is drawn: one line of text."
    archive, sha = fixture_archive(server)
    downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, progress=True)
    out = capsys.readouterr().out
    assert out == f"downloading {server.url}/fixture.tgz ({archive.stat().st_size:,} bytes)\n"


def test_download_without_sha_checks_completeness(server, tmp_path):
    archive, _ = fixture_archive(server)
    dest = downloads.download(f"{server.url}/fixture.tgz", "f.tgz", folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == archive.read_bytes()


def test_download_without_sha_records_one_and_checks_reuse(server, tmp_path):
    archive, sha = fixture_archive(server)
    dest = downloads.download(f"{server.url}/fixture.tgz", "f.tgz", folder=tmp_path / "dl", progress=False)
    assert (tmp_path / "dl" / "f.tgz.sha256").read_text().strip() == sha
    n = len(server.requests)
    assert downloads.download(f"{server.url}/fixture.tgz", "f.tgz", folder=tmp_path / "dl", progress=False) == dest
    assert len(server.requests) == n                      # reused: it still matches its recorded hash
    dest.write_bytes(b"changed since")                    # damaged or replaced in the cache: fetched again
    downloads.download(f"{server.url}/fixture.tgz", "f.tgz", folder=tmp_path / "dl", progress=False)
    assert len(server.requests) == n + 1 and dest.read_bytes() == archive.read_bytes()


def test_truncated_chunked_download_is_incomplete(server, tmp_path):
    "A chunked body that stops before its end raises IncompleteRead inside http.client: one line, the .part kept."
    fixture_archive(server)
    server.chunked, server.cut_after = True, 100_000
    with pytest.raises(FitlamError, match="interrupted after"):
        downloads.download(f"{server.url}/fixture.tgz", "f.tgz", folder=tmp_path / "dl", progress=False)
    assert not (tmp_path / "dl" / "f.tgz").exists()


def test_short_body_without_length_is_caught_when_extracted(server, tmp_path, monkeypatch, capsys):
    "No Content-Length, no hash: a cut body looks complete until extraction fails; then it is deleted, not reused."
    fixture_archive(server)
    monkeypatch.setitem(downloads.ONLINE_SOURCES, "fixture", downloads.OnlineSource(f"{server.url}/fixture.tgz", None, "test"))
    server.send_length, server.cut_after = False, 100_000
    with pytest.raises(FitlamError, match="fixture.tgz .* is incomplete or damaged, so it was deleted; run again"):
        downloads.fetch_online("fixture", progress=True)
    assert "did not say its size" in capsys.readouterr().out
    assert not (tmp_path / "cache" / "fixture.tgz").exists() and not (tmp_path / "cache" / "fixture.tgz.sha256").exists()
    folder = downloads.fetch_online("fixture", progress=False)   # the next try downloads afresh and works
    assert listing(folder) == ["a.txt", "b"]


def test_resume_from_partial_file_uses_range(server, tmp_path):
    archive, sha = fixture_archive(server)
    body = archive.read_bytes()
    half = len(body) // 2
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "fixture.tgz.part").write_bytes(body[:half])
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == body
    assert server.requests == [("/fixture.tgz", f"bytes={half}-")]
    assert server.bytes_sent == len(body) - half  # only the missing half travelled
    assert listing(tmp_path / "dl") == ["fixture.tgz"]


def test_interrupted_download_keeps_part_and_resumes(server, tmp_path):
    archive, sha = fixture_archive(server)
    body = archive.read_bytes()
    server.cut_after = 100_000
    with pytest.raises(FitlamError, match="run again to resume"):
        downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert listing(tmp_path / "dl") == ["fixture.tgz.part"]  # never the real name for a partial file
    assert (tmp_path / "dl" / "fixture.tgz.part").stat().st_size == 100_000
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == body
    assert server.requests[-1] == ("/fixture.tgz", "bytes=100000-")


def test_restart_when_server_ignores_range(server, tmp_path):
    archive, sha = fixture_archive(server)
    server.ranges = False
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "fixture.tgz.part").write_bytes(b"stale bytes from some other file")
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == archive.read_bytes()


def test_part_longer_than_file_restarts(server, tmp_path):
    archive, sha = fixture_archive(server)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "fixture.tgz.part").write_bytes(b"x" * (archive.stat().st_size + 10))
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == archive.read_bytes()
    assert [r for _, r in server.requests] == [f"bytes={archive.stat().st_size + 10}-", None]  # 416, then from 0


def test_corrupted_archive_is_refused_and_leaves_no_file(server, tmp_path):
    archive, sha = fixture_archive(server)
    body = bytearray(archive.read_bytes())
    body[1000] ^= 0xFF  # the server now serves a corrupted copy
    archive.write_bytes(bytes(body))
    with pytest.raises(FitlamError, match="corrupted or not the expected file"):
        downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert listing(tmp_path / "dl") == []


def test_corrupt_partial_file_is_caught_by_the_checksum(server, tmp_path):
    archive, sha = fixture_archive(server)
    body = archive.read_bytes()
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "fixture.tgz.part").write_bytes(b"\0" * 1000)  # right length prefix, wrong bytes
    with pytest.raises(FitlamError, match="sha256"):
        downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert listing(tmp_path / "dl") == []  # the bad file is deleted, so a retry starts clean
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == body


def test_stale_destination_is_replaced(server, tmp_path):
    archive, sha = fixture_archive(server)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "fixture.tgz").write_bytes(b"an old, different file")
    dest = downloads.download(f"{server.url}/fixture.tgz", "fixture.tgz", sha256=sha, folder=tmp_path / "dl", progress=False)
    assert dest.read_bytes() == archive.read_bytes()


def test_http_and_network_errors_are_one_line(server, tmp_path):
    with pytest.raises(FitlamError, match="HTTP 404"):
        downloads.download(f"{server.url}/nope.tgz", "nope.tgz", folder=tmp_path / "dl")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FitlamError, match="could not reach"):
        downloads.download(f"http://127.0.0.1:{port}/x.tgz", "x.tgz", folder=tmp_path / "dl", timeout=5)
    with pytest.raises(FitlamError, match="only download http"):
        downloads.download("ftp://example.com/x.tgz", "x.tgz", folder=tmp_path / "dl")
    assert listing(tmp_path / "dl") == []


# ---------------------------------------------------------------------------------------------- extract
def test_extract_tgz_unwraps_top_folder_atomically(tmp_path):
    archive = make_tgz(tmp_path / "thing.tgz", {"a.txt": b"A", "sub/b.txt": b"B"}, top="thing")
    dest = downloads.extract(archive)
    assert dest == tmp_path / "thing"
    assert (dest / "a.txt").read_bytes() == b"A" and (dest / "sub" / "b.txt").read_bytes() == b"B"
    assert listing(tmp_path) == ["thing", "thing.tgz"]  # no temporary folder left
    assert downloads.extract(archive) == dest  # done already: returned as is


def test_extract_tar_gz_without_single_top_folder(tmp_path):
    with tarfile.open(tmp_path / "flat.tar.gz", "w:gz") as tar:
        for name in ("one.txt", "two.txt"):
            info = tarfile.TarInfo(name); info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    dest = downloads.extract(tmp_path / "flat.tar.gz", tmp_path / "out")
    assert listing(dest) == ["one.txt", "two.txt"]


def test_extract_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr("z/readme.txt", "hi")
    assert (downloads.extract(tmp_path / "z.zip") / "readme.txt").read_text() == "hi"


def evil_tar(path: Path, info: tarfile.TarInfo, content: bytes = b"pwned") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("pkg/ok.txt"); ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if info.isfile(): info.size = len(content)
        tar.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return path


def link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("member", [
    tarfile.TarInfo("../evil"),
    tarfile.TarInfo("pkg/../../evil"),
    tarfile.TarInfo("/tmp/fitlam-evil-absolute"),
    link("pkg/link", "../../evil"),
    link("pkg/link", "/etc/passwd"),
    link("pkg/hard", "../evil", tarfile.LNKTYPE),
    link("pkg/inside", "ok.txt"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out", "symlink-inside"])
def test_extract_refuses_members_escaping_the_folder(tmp_path, member):
    (tmp_path / "dl").mkdir()
    archive = evil_tar(tmp_path / "dl" / "evil.tgz", member)
    with pytest.raises(FitlamError, match="refusing to extract evil.tgz"):
        downloads.extract(archive)
    assert listing(tmp_path / "dl") == ["evil.tgz"]  # no target folder, no temporary folder
    assert not (tmp_path / "evil").exists() and not Path("/tmp/fitlam-evil-absolute").exists()


def test_extract_refuses_a_symlink_chain(tmp_path):
    "Each link looks harmless by name (a/l1 -> l2 -> ../b, all 'inside'); followed, they could lead anywhere."
    (tmp_path / "dl").mkdir()
    archive = tmp_path / "dl" / "chain.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for info in (link("pkg/a/l1", "l2"), link("pkg/a/l2", "../b"), link("pkg/b", "a/l1")): tar.addfile(info)
    with pytest.raises(FitlamError, match="is a symbolic link"):
        downloads.extract(archive)
    assert listing(tmp_path / "dl") == ["chain.tgz"]


def test_extract_caps_members_and_bytes(tmp_path):
    "A small archive that expands into many files or many bytes is refused before anything is written."
    many = make_tgz(tmp_path / "many.tgz", {f"f{i}.txt": b"" for i in range(50)})
    with pytest.raises(FitlamError, match="it holds 50 members, more than the 40 allowed"):
        downloads.extract(many, tmp_path / "out1", max_members=40)
    huge = make_tgz(tmp_path / "huge.tgz", {"zeros.bin": bytes(2_000_000)})   # 2 MB of zeros: ~2 kB compressed
    assert huge.stat().st_size < 10_000
    with pytest.raises(FitlamError, match="expands to 2,000,000 bytes, more than the 1,000,000 allowed"):
        downloads.extract(huge, tmp_path / "out2", max_bytes=1_000_000)
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()


def test_extract_refuses_zip_traversal(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("ok.txt", "ok")
        z.writestr("../evil.txt", "pwned")
    with pytest.raises(FitlamError, match="outside the target folder"):
        downloads.extract(tmp_path / "evil.zip", tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "evil.txt").exists() and listing(tmp_path / "out") == []


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_extract_refuses_a_damaged_archive(tmp_path, damage):
    good = make_tgz(tmp_path / "good.tgz", {"big.bin": random.Random(0).randbytes(20_000)})
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"this is not an archive at all" * 10 if damage == "garbage" else good.read_bytes()[:3000])
    with pytest.raises(FitlamError, match="damaged or not a valid archive"):
        downloads.extract(bad)
    assert listing(tmp_path) == ["bad.tgz", "good.tgz"]


def test_extract_unknown_format(tmp_path):
    (tmp_path / "x.rar").write_bytes(b"Rar!")
    with pytest.raises(FitlamError, match="only .tar.gz, .tgz, .tar, .zip"):
        downloads.extract(tmp_path / "x.rar")


# ---------------------------------------------------------------------------------------------- end to end
def test_fetch_online_and_load_imdb_full(server, tmp_path, monkeypatch, capsys):
    "The whole path a Colab user takes, with a tiny fake imdb.tgz served locally in place of fastai's."
    src = tmp_path / "src" / "imdb"
    reviews = {"train/pos": ["Great.", "Superb.", "Fine film."], "train/neg": ["Bad.", "Awful.", "Meh."],
               "test/pos": ["Lovely."], "test/neg": ["Dire."], "unsup": ["Some text.", "Dire."]}
    for sub, texts in reviews.items():
        (src / sub).mkdir(parents=True)
        for i, t in enumerate(texts): (src / sub / f"{i}_1.txt").write_text(t)
    with tarfile.open(server.folder / "imdb.tgz", "w:gz") as tar: tar.add(src, arcname="imdb")
    sha = hashlib.sha256((server.folder / "imdb.tgz").read_bytes()).hexdigest()
    monkeypatch.setitem(downloads.ONLINE_SOURCES, "imdb", downloads.OnlineSource(f"{server.url}/imdb.tgz", sha, "fake"))

    splits = data.load_dataset("imdb_full", download=True)
    assert {s: len(df) for s, df in splits.items()} == {"train": 5, "valid": 1, "test": 2, "unlabelled": 1}
    data.check_disjoint(splits)  # the unlabelled copy of a test review was dropped
    assert "1 unlabelled texts also in test" in capsys.readouterr().out
    assert (tmp_path / "cache" / "imdb" / "train" / "pos").is_dir()
    n = len(server.requests)
    assert downloads.fetch_online("imdb") == tmp_path / "cache" / "imdb" and len(server.requests) == n
    assert "imdb_full" in data.available_datasets()
    task = data.load_task_data(data.load_preset("quick", dataset="imdb_full"))
    assert len(task["test"]) == 2
