import asyncio
from actors.testing import MockClock, wait_all_idle, runtime_tasks, live_actors
from supervisors import Backoff, Supervisor
from tests.supervisors.lab import Lab

async def test_dbg(lab: Lab, clock: MockClock) -> None:
    sup = await Supervisor.start([lab.spec("a"), lab.spec("b", backoff=Backoff(initial=1))], strategy="one_for_all", name="pipeline")
    kids = {c.id: c.ref for c in await sup.which_children()}
    await lab.crash(kids["b"])
    print("after crash", clock, repr(sup), sup.statistics(), [t._timers for t in [clock]][0][:3] if hasattr(clock,'_timers') else None)
    for t in clock._timers: print("timer", t.deadline, t.cancelled, t.callback)
    await clock.advance(1)
    print("after advance", clock, repr(sup), sup.statistics())
    for t in runtime_tasks(): print(t)
    await sup.stop()
