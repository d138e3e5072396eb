"""One driver per search storage: the lease and the conditional writes of the state, on a local disk and on
moto's S3 server, without Ray (the concurrent searches themselves are in test_search_concurrent.py)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from archdsl.search.lease import LEASE, Lease, LeaseHeldError, LeaseLostError
from archdsl.search.storage import Storage, WriteConflict, parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    server_mod = pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    import pyarrow.fs as pafs

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", region="us-east-1",
                      allow_bucket_creation=True).create_dir("bucket")
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return Storage(parse(str(tmp_path / "storage")))
    endpoint = request.getfixturevalue("moto_endpoint")
    return Storage(parse(f"s3://bucket/{request.node.name.replace('[', '_').rstrip(']')}-{time.time_ns()}",
                         endpoint))


def test_a_conditional_write_refuses_a_version_it_did_not_see(store):
    tag = store.write_if("state.json", b"one", None)
    with pytest.raises(WriteConflict):
        store.write_if("state.json", b"two", None)  # it exists now
    newer = store.write_if("state.json", b"two", tag)
    with pytest.raises(WriteConflict):
        store.write_if("state.json", b"three", tag)  # a writer still holding the first version
    assert store.read_versioned("state.json") == (b"two", newer)


def test_a_second_driver_is_refused_with_the_holder_named_and_takes_the_lease_once_it_is_released(store):
    a = Lease(store, "/runs/a")
    a.acquire()
    try:
        b = Lease(store, "/runs/b")
        with pytest.raises(LeaseHeldError) as e:
            b.acquire()
        msg = e.value.message
        assert f"search {a.owner}, pid {os.getpid()} on {socket.gethostname()}, writing /runs/a" in msg
        assert "--force" in msg and "\n" not in msg
    finally:
        a.release()
    assert store.read_versioned(LEASE) == (None, None)  # released: the lease object is gone
    b.acquire()
    b.release()


def test_drivers_starting_at_the_same_moment_get_exactly_one_lease(store):
    leases = [Lease(store, f"/runs/{i}") for i in range(6)]
    start, won, refused = threading.Barrier(len(leases)), [], []

    def take(lease):
        start.wait()
        try:
            lease.acquire()
            won.append(lease)
        except LeaseHeldError:
            refused.append(lease)

    threads = [threading.Thread(target=take, args=(x,)) for x in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(won) == 1 and len(refused) == 5
        assert json.loads(store.read_versioned(LEASE)[0])["owner"] == won[0].owner
    finally:
        won[0].release()


@pytest.mark.parametrize("holder", [{"host": socket.gethostname(), "pid": 2**80, "heartbeat": "soon"},
                                    {"host": socket.gethostname(), "pid": -1, "heartbeat": 0}, [1, 2]])
def test_a_damaged_lease_is_taken_over_without_a_traceback(tmp_path, holder):
    store = Storage(parse(str(tmp_path / "storage")))
    store.write_bytes(LEASE, json.dumps(holder).encode())
    lease = Lease(store, "/runs/b", timeout=1.0)
    lease.acquire()
    assert "unreadable" in lease.took_over or "heartbeat stopped" in lease.took_over, lease.took_over
    lease.release()


def test_a_holder_whose_heartbeat_stopped_is_taken_over_and_can_no_longer_write_the_state(store):
    a = Lease(store, "/runs/a", timeout=1.0)
    a.acquire()
    a.write("state.json", b'{"by": "a"}')
    a._stop.set()  # a driver that hangs (or loses the network): its heartbeat stops, its process lives on
    a._thread.join()
    b = Lease(store, "/runs/b", timeout=1.0)
    with pytest.raises(LeaseHeldError):
        b.acquire()  # still fresh
    time.sleep(1.3)
    b.acquire()
    assert "heartbeat stopped" in b.took_over and a.owner in b.took_over
    assert b.read("state.json") == b'{"by": "a"}'
    b.write("state.json", b'{"by": "b"}')
    with pytest.raises(LeaseLostError, match=f"another search took over .*search {b.owner}"):
        a.write("state.json", b'{"by": "a, again"}')
    assert store.read_versioned("state.json")[0] == b'{"by": "b"}'
    a.release()  # a lost lease is not deleted on release: b keeps it
    assert json.loads(store.read_versioned(LEASE)[0])["owner"] == b.owner
    b.release()


def test_force_takes_a_live_lease_and_the_old_holder_stops_at_its_next_write(store):
    a = Lease(store, "/runs/a")
    a.acquire()
    a.write("state.json", b"a")
    b = Lease(store, "/runs/b")
    b.acquire(force=True)
    assert "--force" in b.took_over
    with pytest.raises(LeaseLostError):
        a.write("state.json", b"a2")  # before b wrote anything: the lease guard refuses it
    assert store.read_versioned("state.json")[0] == b"a"
    a.release()
    b.release()


def test_the_heartbeat_keeps_a_lease_fresh_and_notices_a_takeover(store):
    a = Lease(store, "/runs/a", timeout=1.2)
    a.acquire()
    first = json.loads(store.read_versioned(LEASE)[0])["heartbeat"]
    time.sleep(0.8)
    assert json.loads(store.read_versioned(LEASE)[0])["heartbeat"] > first  # beats every timeout/6
    b = Lease(store, "/runs/b", timeout=1.2)
    with pytest.raises(LeaseHeldError):
        b.acquire()
    b.acquire(force=True)
    time.sleep(0.6)
    assert a.lost  # its next beat found the lease changed hands
    a.release()
    b.release()


HOLDER = """
import sys, time
from archdsl.search.lease import Lease
from archdsl.search.storage import Storage, parse
lease = Lease(Storage(parse(sys.argv[1])), "/runs/killed", timeout=3600)
lease.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_lease_of_a_killed_driver_on_this_host_is_taken_over_at_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "storage")], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    store = Storage(parse(str(tmp_path / "storage")))
    with pytest.raises(LeaseHeldError, match=f"pid {proc.pid} on"):
        Lease(store, "/runs/b").acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    b = Lease(store, "/runs/b")
    b.acquire()  # no waiting for its hour-long timeout: its process is gone
    assert "its process has ended" in b.took_over
    b.release()


def test_a_link_planted_in_a_local_storage_is_never_written_through(tmp_path):
    """The temporary file of an atomic write had a guessable name (the pid): a link planted at it in a shared
    storage had the driver write its state into the file the link named."""
    store = Storage(parse(str(tmp_path / "storage")))
    victim = tmp_path / "victim"
    victim.write_text("precious")
    root = tmp_path / "storage"
    root.mkdir()
    (root / f".state.json.{os.getpid()}.tmp").symlink_to(victim)
    (root / "lease.json").symlink_to(victim)
    store.write_bytes("state.json", b"{}")
    store.write_if("lease.json", b"{}", store.read_versioned("lease.json")[1])
    assert victim.read_text() == "precious"
    assert not (root / "state.json").is_symlink() and (root / "state.json").read_bytes() == b"{}"
    assert not (root / "lease.json").is_symlink()


@pytest.mark.parametrize("plant", ["directory", "fifo", "loop"])
def test_a_state_or_lease_that_is_no_plain_file_is_one_line_never_a_hang(tmp_path, plant):
    """A FIFO planted at state.json blocked `search --resume` for good; a directory or a link loop there (or at
    lease.json) was a traceback."""
    from report_rundir import make_run_dir

    from archdsl.dsl.errors import ArchFileError

    root = tmp_path / "storage"
    root.mkdir()
    store = Storage(parse(str(root)))
    for name in ("state.json", "lease.json"):
        {"directory": lambda p: p.mkdir(), "fifo": os.mkfifo, "loop": lambda p: p.symlink_to(p.name)}[plant](root / name)
        for read in (store.read_bytes, store.read_versioned):
            box = []
            t = threading.Thread(target=_raised, args=(read, name, box), daemon=True)
            t.start()
            t.join(10)
            assert box and isinstance(box[0], ArchFileError) and name in str(box[0]), (plant, name, box)
            assert "\n" not in str(box[0])
    if plant != "fifo":
        return
    run = make_run_dir(tmp_path / "run", trials=2, finished=False, driver=None)  # the same end to end
    (run / "ray" / "state.json").unlink()
    os.mkfifo(run / "ray" / "state.json")
    res = subprocess.run([sys.executable, "-m", "archdsl", "search", "--resume", "--out", str(run)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1].startswith("error: ") and "not a regular file" in res.stderr


def _raised(read, name, box: list) -> None:
    try:
        read(name)
    except Exception as e:  # noqa: BLE001  the test looks at what was raised
        box.append(e)
        return
    box.append(None)


def test_names_from_a_damaged_state_never_lead_out_of_the_storage(store, tmp_path):
    """A trial's attempt directories come from the state: '/etc' or '../other-search' had the driver list and
    copy checkpoints from outside the storage (any bucket the credentials reach, any local directory)."""
    from archdsl.dsl.errors import ArchFileError
    from archdsl.search.trainable import latest_checkpoint

    store.write_bytes("run1/trial_a/result.json", b"{}")
    for bad in ["../elsewhere", "/etc", "run1/../../x", "a/\x00b"]:
        for use in (store.read_bytes, store.listdir, lambda r: store.write_bytes(r, b"x"),
                    lambda r: store.download(r, tmp_path / "d")):
            with pytest.raises(ArchFileError, match="not a path inside the search storage"):
                use(bad)
    assert store.read_bytes("run1/trial_a/result.json") == b"{}"
    spec = {"uri": store.spec.uri, "endpoint": store.spec.endpoint}
    assert latest_checkpoint(spec, ["/etc", "../..", "run1/trial_a"], tmp_path / "into") == 0

