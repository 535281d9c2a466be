"""The worker pool's watch over a master that does not reap its dead children: dramatiq's master
waits (up to 30 s) for every worker to finish booting before it reaps any, so a worker killed during
boot stays a zombie while the master looks alive."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from finhub.runtime import workers
from finhub.runtime.workers import LOST_GRACE, WorkerPool, _children
from tests.clock import FakeClock
from tests.polling import wait_for

# A master that starts two children and never reaps them, as dramatiq's does while a worker boots.
MASTER = textwrap.dedent("""
    import subprocess, sys, time
    kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    print(" ".join(str(k.pid) for k in kids), flush=True)
    time.sleep(120)
""")


@pytest.fixture
def master():
    proc = subprocess.Popen([sys.executable, "-c", MASTER], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    kids = [int(pid) for pid in proc.stdout.readline().split()]
    yield proc, kids
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for kid in kids:
        try:
            os.kill(kid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_killed_child_its_parent_has_not_reaped_is_not_a_live_child(master):
    proc, kids = master
    assert _children(proc.pid) == set(kids)
    os.kill(kids[0], signal.SIGKILL)
    assert wait_for(lambda: _children(proc.pid) == {kids[1]}, 10), _children(proc.pid)
    assert proc.poll() is None, "the master must still look alive: that is the case under test"


def test_a_master_that_lost_a_booting_worker_is_killed_after_the_grace_and_restarted(master, monkeypatch):
    proc, kids = master
    started = []
    monkeypatch.setattr(workers, "start_workers", lambda processes, env: started.append(processes))
    clock = FakeClock()
    pool = WorkerPool(2, {}, clock=clock)
    pool.proc = proc
    pool.check()                                  # sees both children
    os.kill(kids[0], signal.SIGKILL)
    assert wait_for(lambda: kids[0] not in (_children(proc.pid) or set()), 10)
    pool.check()                                  # notes the loss
    assert proc.poll() is None
    clock.advance(LOST_GRACE + 0.1)
    pool.check()                                  # past the grace: the whole group is killed
    assert proc.wait(10) == -signal.SIGKILL
    pool.check()                                  # the master's exit schedules a restart
    assert pool.proc is None and pool.restart_at is not None
    clock.advance(pool.restart_at - clock())
    pool.check()
    assert started == [2]
