"""A network path that dies silently while nobody is talking: no server event is
expected, so only the websocket keepalive can tell. The ping times out, the engine
reconnects and restores the conversation."""

from __future__ import annotations

from tests.support.engine import Recorder, make_registry
from tests.support.proxy import FreezableProxy
from tests.support.reliability import FAST, answer, only_session, replayed
from voice_tui.backends.openai import OpenAIBackend
from voice_tui.config.schema import Settings
from voice_tui.core.engine import ConversationEngine
from voice_tui.core.events import ConnectionChanged, ConnectionState
from voice_tui.server.chaos import ChaosServer


async def test_a_silently_dead_network_is_found_by_the_keepalive(
    chaos: ChaosServer, settings: Settings
) -> None:
    proxy = FreezableProxy(chaos.server.port)
    await proxy.start()
    data = settings.model_dump(mode="python")
    data["openai"]["api_key"] = settings.openai.api_key
    data["openai"]["base_url"] = f"http://127.0.0.1:{proxy.port}/v1"
    via_proxy = Settings.model_validate(data)
    backend = OpenAIBackend(via_proxy, keepalive=(0.2, 0.3))
    engine = ConversationEngine(via_proxy, backend, make_registry(via_proxy), policy=FAST)
    rec = Recorder()
    engine.subscribe(rec)
    try:
        await engine.start()
        assert await answer(engine, rec, "my name is Ada") == "You said: my name is Ada."
        first = only_session(chaos)
        mark = len(rec.events)
        proxy.freeze_live_connections()  # idle: the watchdog expects nothing
        changed = await rec.wait_for(
            ConnectionChanged, lambda e: e.state is ConnectionState.RECONNECTING, after=mark
        )
        assert "was lost (code 1011: keepalive ping timeout)" in changed.detail
        await rec.wait_for(
            ConnectionChanged, lambda e: e.state is ConnectionState.CONNECTED, after=mark
        )
        second = next(s for s in chaos.sessions if s is not first)
        assert replayed(chaos, second)[:2] == [
            ("user", "my name is Ada"),
            ("assistant", "You said: my name is Ada."),
        ]
        assert await answer(engine, rec, "still there") == "You said: still there."
    finally:
        await engine.close()
        await backend.aclose()
        await proxy.close()
