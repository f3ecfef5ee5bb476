"""The engine alone SIGKILLed during an SSH run: the remote scheduler closes its cluster, nothing is left.

The scheduler and the workers were started through ssh; nothing in the
engine can stop them once it is killed. The scheduler sees the engine's
client leave and closes itself and its workers; each worker's guardian
kills the commands it leaves. Only this testcase of the suite uses SSH:
the processes of distributed's SSH launcher (dask_spec) are this run's.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

MARK = f"317.{os.getpid()}"


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def launched() -> list[psutil.Process]:
    """distributed's SSH launcher processes (scheduler, nannies) and everything under them."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if "distributed.cli.dask_spec" in (proc.info["cmdline"] or []):
            found.append(proc)
            found.extend(proc.children(recursive=True))
    return [p for p in found if alive(p)]


def sleeping() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", MARK]]


# Written here, not in the suite: the run above must not wait for it, and
# an environment variable would not reach the workers through ssh.
slow = Path("tests/slow")
slow.mkdir()
(slow / "test.yaml").write_text(f'fragments: [{{name: run, shell: "sleep {MARK}", status: PASS}}]\n')
engine = subprocess.Popen([sys.executable, "testsuite.py", "--executor", "hosts", "--no-color", "slow"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 120
while not sleeping() and time.monotonic() < deadline:
    time.sleep(0.1)
print("$ testsuite.py --executor hosts slow  # then SIGKILL to the engine alone")
print("the command runs on a worker:", bool(sleeping()))
started = launched()
print("launched through ssh (scheduler, 2 nannies, 2 workers, 2 guardians, the command):", len(started) >= 7)
os.kill(engine.pid, signal.SIGKILL)
engine.wait(30)
deadline = time.monotonic() + 90
while [p for p in started if alive(p)] and time.monotonic() < deadline:
    time.sleep(0.2)
left = [p for p in started if alive(p)]
print("left 90 s after the engine died:", left or "nothing")
for proc in left:
    proc.kill()
report = subprocess.run([sys.executable, "-m", "e3suite", "report", "out", "--no-color"],
                        capture_output=True, text=True, timeout=60)
print("$ e3suite report out")
print(report.stdout + report.stderr, end="")
shutil.rmtree(slow)

# The engine SIGKILLed while its SSH cluster starts: the remote scheduler
# is up, its client not connected yet, so EngineWatch is not registered.
# That scheduler ran for ever; it now closes itself when no client has
# been connected for start_timeout (10 s here), and its workers with it.
# Other runs may use this sshd: what this run launched is found from the
# engine's own ssh connections.
config = Path("e3suite.yaml")
config.write_text(config.read_text() + "  starting:\n" + "".join(
    f"    {line}\n" for line in (
        "type: ssh", "hosts: [127.0.0.1, 127.0.0.1]", "port: 2222", "user: root",
        "key: /tmp/e3suite-services/ssh/id_ed25519", "start_timeout: 10",
    )
))


def launched_by(engine_pid: int) -> list[psutil.Process]:
    try:
        ports = {c.laddr.port for c in psutil.Process(engine_pid).net_connections("tcp")
                 if c.raddr and c.raddr.port == 2222}
    except psutil.Error:
        return []
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "sshd" and any(c.raddr and c.raddr.port in ports
                                                   for c in proc.net_connections("tcp")):
                found.extend(p for p in proc.children(recursive=True) if "distributed.cli.dask_spec" in p.cmdline())
        except psutil.Error:
            continue
    return found


engine = subprocess.Popen([sys.executable, "testsuite.py", "--executor", "starting", "--no-color", "lib"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 60
schedulers: list[psutil.Process] = []
while not schedulers and engine.poll() is None and time.monotonic() < deadline:
    schedulers = [p for p in launched_by(engine.pid) if "distributed.Scheduler" in " ".join(p.cmdline())]
    time.sleep(0.02)
started = {p.pid: p for p in launched_by(engine.pid) + schedulers}
os.kill(engine.pid, signal.SIGKILL)
engine.wait(30)
print("$ testsuite.py --executor starting lib  # SIGKILL to the engine as its remote scheduler starts")
print("a scheduler was launched through ssh:", bool(schedulers))
time.sleep(1)  # workers being launched then: they outlive their ssh session too
for proc in list(started.values()):
    with contextlib.suppress(psutil.Error):
        started.update({p.pid: p for p in proc.children(recursive=True)})
deadline = time.monotonic() + 120
while [p for p in started.values() if alive(p)] and time.monotonic() < deadline:
    time.sleep(0.2)
left = [p for p in started.values() if alive(p)]
print("left 120 s after the engine died:", left or "nothing")
for proc in left:
    proc.kill()
