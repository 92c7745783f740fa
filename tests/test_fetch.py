"""Fetching fastai's WikiText-103 model, against a real HTTP server on 127.0.0.1 that the tests start.

The server serves tiny archives laid out like fastai's (``wt103-fwd/lstm_fwd.pth`` +
``wt103-fwd/itos_wt103.pkl``, built from the fixtures fastai made), and the bad cases a real
download meets: wrong size, wrong checksum, a truncated archive, an HTML error page, unsafe
members, a connection dropped halfway, a read-only data home. Each must give one clear error
and leave nothing that a later call would trust.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import http.server
import io
import json
import os
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import skulmfit
from skulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from skulmfit.cli import main
from skulmfit.datasets import load_trec
from skulmfit.exceptions import ArchiveError, DownloadError
from skulmfit.modelfile import load_lm
from skulmfit.pretrained import fetch_pretrained, remote, resolve_pretrained
from skulmfit.safe_tar import check_members, safe_extract

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fastai"


# -- archives laid out like fastai's ------------------------------------------------------------------
def _add(tf: tarfile.TarFile, name: str, data: bytes | None = None, **attrs) -> None:
    info = tarfile.TarInfo(name)
    for k, v in attrs.items():
        setattr(info, k, v)
    if data is None:
        tf.addfile(info)
    else:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def fastai_archive(direction: str = "fwd", extra=None) -> bytes:
    """``wt103-{direction}.tgz`` as fastai publishes it, with the tiny fixture model inside."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        _add(tf, f"wt103-{direction}", type=tarfile.DIRTYPE, mode=0o755)
        _add(tf, f"wt103-{direction}/lstm_{direction}.pth", (FIXTURES / f"v1_{direction}.pth").read_bytes())
        _add(tf, f"wt103-{direction}/itos_wt103.pkl", (FIXTURES / f"v1_{direction}_itos.pkl").read_bytes())
        if extra:
            extra(tf)
    return buf.getvalue()


def checks(data: bytes) -> remote.RemoteArchive:
    return remote.RemoteArchive("", len(data), hashlib.md5(data[: 1 << 20]).hexdigest())


# -- a real HTTP server on 127.0.0.1 --------------------------------------------------------------------
class Server:
    """``routes[path] = (kind, payload)``: ``'ok'`` bytes, ``'html'`` bytes (200, text/html),
    ``'drop'`` bytes (announces all, sends half, closes), ``'status'`` int."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, object]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.hits.append(self.path)
                kind, payload = server.routes.get(self.path, ("status", 404))
                if kind == "status":
                    self.send_error(payload)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if kind == "html" else "application/x-gzip")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if kind == "drop":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/models/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, filename: str, kind: str, payload) -> None:
        self.routes[f"/models/{filename}"] = (kind, payload)


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(5)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data home, also as ``$SKULMFIT_DATA`` (nothing is written to the real one)."""
    h = tmp_path / "data_home"
    monkeypatch.setenv("SKULMFIT_DATA", str(h))
    return h


def expect(monkeypatch, direction: str, data: bytes) -> None:
    """Make the registry's 'wt103' checks those of ``data`` (the real ones are for 105 MB files)."""
    wt = remote.REMOTE_MODELS["wt103"]
    c = checks(data)
    arch = dataclasses.replace(wt.archive(direction), size=c.size, md5_first_mib=c.md5_first_mib)
    monkeypatch.setitem(remote.REMOTE_MODELS, "wt103", dataclasses.replace(wt, **{direction: arch}))


def leftovers(home: Path) -> list[str]:
    """Files in the data home (a failed call may leave only empty folders)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) if home.exists() else []


def fetch(server, home, direction="fwd", **kw):
    return fetch_pretrained("wt103", direction=direction, data_home=home, base_url=server.base_url, verbose=0, **kw)


# -- the matrix -------------------------------------------------------------------------------------------
def test_success_then_offline_reuse(server, home, monkeypatch):
    data = fastai_archive()
    server.serve("wt103-fwd.tgz", "ok", data)
    expect(monkeypatch, "fwd", data)
    path = fetch(server, home)
    assert path == home / "wt103" / "wt103-fwd.pt"
    assert leftovers(home) == ["wt103/wt103-fwd.json", "wt103/wt103-fwd.pt", "wt103/wt103-fwd.tgz"]
    record = json.loads((home / "wt103" / "wt103-fwd.json").read_text())
    assert record["model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["source_url"] == server.base_url + "wt103-fwd.tgz" and record["licence"] == "Apache-2.0"
    lm = load_lm(path)
    assert lm.direction == "fwd" and lm.meta["fastai_layout"] == "v1" and len(lm.vocab) == 72
    # the same numbers fastai computed for this model
    case = torch.load(FIXTURES / "expected.pt", weights_only=True)["v1_fwd"]
    with torch.no_grad():
        lp = torch.log_softmax(lm.model.eval()(case["ids"])[0], -1)
    assert (lp - case["logprobs"]).abs().max().item() <= 1e-5
    # later calls: offline, no request
    n = len(server.hits)
    assert fetch(server, home, download_if_missing=False) == path and len(server.hits) == n
    listed = skulmfit.list_pretrained(home)["wt103"]
    assert listed["fwd"] == str(path) and listed["downloads"]["fwd"]["fetched"] is True
    assert listed["bwd"] is None and listed["downloads"]["bwd"]["fetched"] is False


def test_wrong_size(server, home, monkeypatch):
    data = fastai_archive()
    server.serve("wt103-fwd.tgz", "ok", data + b"\0" * 10)
    expect(monkeypatch, "fwd", data)
    with pytest.raises(DownloadError, match=r"has [\d,]+ bytes, expected [\d,]+.*import-fastai"):
        fetch(server, home)
    assert leftovers(home) == []


def test_wrong_md5(server, home, monkeypatch):
    data = fastai_archive()
    other = fastai_archive("bwd")
    server.serve("wt103-fwd.tgz", "ok", other)
    wt = remote.REMOTE_MODELS["wt103"]
    monkeypatch.setitem(remote.REMOTE_MODELS, "wt103", dataclasses.replace(
        wt, fwd=dataclasses.replace(wt.fwd, size=len(other), md5_first_mib=checks(data).md5_first_mib)))
    with pytest.raises(DownloadError, match="wrong checksum"):
        fetch(server, home)
    assert leftovers(home) == []


def test_truncated_archive_is_deleted_and_the_next_call_succeeds(server, home, monkeypatch):
    data = fastai_archive()
    cut = data[: len(data) * 2 // 3]
    server.serve("wt103-fwd.tgz", "ok", cut)
    expect(monkeypatch, "fwd", cut)  # the checks pass: a mirror publishing a broken file
    with pytest.raises(ArchiveError, match=r"truncated.*was deleted"):
        fetch(server, home)
    assert leftovers(home) == []
    server.serve("wt103-fwd.tgz", "ok", data)
    expect(monkeypatch, "fwd", data)
    assert load_lm(fetch(server, home)).direction == "fwd"


def test_html_error_page(server, home, monkeypatch):
    server.serve("wt103-fwd.tgz", "html", b"<!DOCTYPE html><html><body><h1>Access denied</h1></body></html>")
    expect(monkeypatch, "fwd", fastai_archive())
    with pytest.raises(DownloadError, match="web page"):
        fetch(server, home)
    assert leftovers(home) == []


def test_http_error_names_the_url_and_the_manual_route(server, home):
    with pytest.raises(DownloadError, match=r"HTTP 404.*wt103-fwd.tgz.*import-fastai.*pretrained="):
        fetch(server, home)
    assert leftovers(home) == []


@pytest.mark.parametrize("member, match", [
    (lambda tf: _add(tf, "wt103-fwd/../../escaped.txt", b"x"), r"'\.\.' component"),
    (lambda tf: _add(tf, "/tmp/skulmfit-absolute-member.txt", b"x"), "absolute path"),
    (lambda tf: _add(tf, "wt103-fwd/link", type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symbolic link"),
    (lambda tf: _add(tf, "wt103-fwd/hard", type=tarfile.LNKTYPE, linkname="wt103-fwd/itos_wt103.pkl"),
     "hard link"),
    (lambda tf: _add(tf, "wt103-fwd/dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
], ids=["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_unsafe_members_are_refused_before_extraction(server, home, monkeypatch, tmp_path, member, match):
    data = fastai_archive(extra=member)
    server.serve("wt103-fwd.tgz", "ok", data)
    expect(monkeypatch, "fwd", data)
    with pytest.raises(ArchiveError, match=match):
        fetch(server, home)
    assert leftovers(home) == []
    assert not (home.parent / "escaped.txt").exists() and not Path("/tmp/skulmfit-absolute-member.txt").exists()


def test_connection_dropped_halfway_leaves_nothing_and_the_next_call_succeeds(server, home, monkeypatch):
    data = fastai_archive()
    server.serve("wt103-fwd.tgz", "drop", data)
    expect(monkeypatch, "fwd", data)
    with pytest.raises(DownloadError, match=r"cut off|ended after"):
        fetch(server, home)
    assert leftovers(home) == []  # no .part file, no archive
    server.serve("wt103-fwd.tgz", "ok", data)
    assert fetch(server, home).is_file()


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def _set_immutable(folder: Path, on: bool) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
        flags = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags))
    finally:
        os.close(fd)


@pytest.fixture
def read_only_home(home):
    """A data home nobody can write to. chmod does not stop root, so as root the folder is made
    immutable (the ext4/xfs/btrfs 'i' attribute, which binds root too)."""
    home.mkdir(parents=True)
    if os.geteuid() != 0:
        home.chmod(0o555)
        yield home
        home.chmod(0o755)
        return
    try:
        _set_immutable(home, True)
    except OSError as e:
        pytest.skip(f"running as root and this file system cannot make a folder immutable ({e}): "
                    "no way to make a folder read-only for root here")
    try:
        yield home
    finally:
        _set_immutable(home, False)


def test_read_only_data_home(server, read_only_home, monkeypatch):
    data = fastai_archive()
    server.serve("wt103-fwd.tgz", "ok", data)
    expect(monkeypatch, "fwd", data)
    with pytest.raises(OSError) as exc:
        (read_only_home / "probe").write_bytes(b"")  # the test's own proof that the folder is read-only
    with pytest.raises(PermissionError, match=r"cannot write to the skulmfit data home.*SKULMFIT_DATA"):
        fetch(server, read_only_home)
    assert server.hits == [] and leftovers(read_only_home) == []
    del exc


def test_no_network_is_a_clear_error_naming_the_url_and_the_manual_route(home):
    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(DownloadError) as exc:
        fetch_pretrained("wt103", data_home=home, base_url=url, verbose=0)
    msg = str(exc.value)
    assert f"{url}wt103-fwd.tgz" in msg and "no connection" in msg
    assert "skulmfit import-fastai wt103-fwd.tgz --out MODEL.pt" in msg and "pretrained='path/to/wt103-fwd.tgz'" in msg
    with pytest.raises(FileNotFoundError, match="download_if_missing=False.*import-fastai"):
        fetch_pretrained("wt103", data_home=home, download_if_missing=False)
    assert leftovers(home) == []


def test_a_tampered_converted_file_is_not_trusted(server, home, monkeypatch):
    data = fastai_archive("bwd")
    server.serve("wt103-bwd.tgz", "ok", data)
    expect(monkeypatch, "bwd", data)
    path = fetch(server, home, direction="bwd")
    good = path.read_bytes()
    path.write_bytes(good[:-10])  # damaged after conversion: reconverted from the checked archive
    n = len(server.hits)
    assert fetch(server, home, direction="bwd").read_bytes() == good and len(server.hits) == n
    (home / "wt103" / "wt103-bwd.tgz").write_bytes(b"junk")  # a wrong archive is deleted and fetched again
    path.unlink()
    assert fetch(server, home, direction="bwd").read_bytes() == good and len(server.hits) == n + 1


def test_safe_extract_size_and_member_caps(tmp_path):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(fastai_archive())
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        safe_extract(archive, tmp_path / "x", max_bytes=1000)
    with pytest.raises(ArchiveError, match="more than 2 members"):
        check_members(archive, max_members=2)
    files = safe_extract(archive, tmp_path / "ok")
    assert sorted(p.name for p in files) == ["itos_wt103.pkl", "lstm_fwd.pth"]


# -- through the estimators and the CLI ---------------------------------------------------------------------
def test_pretrained_wt103_in_an_estimator_and_the_cli(server, home, monkeypatch, capsys):
    for d in ("fwd", "bwd"):
        data = fastai_archive(d)
        server.serve(f"wt103-{d}.tgz", "ok", data)
        expect(monkeypatch, d, data)
    monkeypatch.setenv("SKULMFIT_PRETRAINED_URL", server.base_url)
    assert main(["fetch", "wt103", "--direction", "both", "-q"]) == 0
    paths = json.loads(capsys.readouterr().out)
    assert paths == {d: str(home / "wt103" / f"wt103-{d}.pt") for d in ("fwd", "bwd")}
    assert resolve_pretrained("wt103", "bwd") == home / "wt103" / "wt103-bwd.pt"
    texts = ["the big cat sees a dog .", "a small bird likes the tree ."] * 6
    lm = ULMFiTLanguageModel(pretrained="wt103", direction="bwd", lm_epochs=1, batch_size=4, bptt=8,
                             device="cpu", random_state=0).fit(texts)
    assert lm.model_.config.emb_size == 12 and lm.direction_ == "bwd"


def test_classifier_from_a_fastai_archive_on_trec6(home, tmp_path):
    """ULMFiTClassifier(pretrained=PATH_TO_A_FASTAI_ARCHIVE) fits and predicts TREC-6 questions."""
    paths = {}
    for d in ("fwd", "bwd"):
        paths[d] = tmp_path / f"wt103-{d}.tgz"
        paths[d].write_bytes(fastai_archive(d))
    X, y = load_trec("train", return_X_y=True)
    rng = np.random.RandomState(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), 8, replace=False) for c in np.unique(y)])
    clf = ULMFiTClassifier(pretrained=str(paths["fwd"]), pretrained_bwd=str(paths["bwd"]), bidirectional=True,
                           lm_epochs=1, epochs=2, batch_size=16, device="cpu", random_state=0)
    clf.fit([X[i] for i in idx], y[idx])
    assert clf.models_["fwd"].config.emb_size == 12 and clf.models_["bwd"].config.hidden_size == 20
    X_test, _ = load_trec("test", return_X_y=True)
    pred = clf.predict(X_test[:20])
    assert len(pred) == 20 and set(pred) <= set(clf.classes_) and set(clf.classes_) == set(np.unique(y))
    imported = sorted(p.name for p in (home / "imported").glob("*.pt"))
    assert len(imported) == 2 and {n.rsplit("-", 1)[1] for n in imported} == {"fwd.pt", "bwd.pt"}


def test_drawing_a_schedule_for_wt103_downloads_nothing(home, monkeypatch):
    from skulmfit.plot import _n_layers_of

    def refuse(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert _n_layers_of("wt103") == 3 and leftovers(home) == []
