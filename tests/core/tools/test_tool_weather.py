"""get_weather against a real HTTP server on 127.0.0.1 serving Open-Meteo-shaped JSON."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.tools import FIXED_NOW, call
from voice_tui.config.schema import Settings, ToolsSettings
from voice_tui.core.tools import ToolContext, ToolRegistry, build_registry

PLACES = [
    {
        "name": "Paris",
        "latitude": 33.66094,
        "longitude": -95.55551,
        "country": "United States",
        "country_code": "US",
        "admin1": "Texas",
    },
    {
        "name": "Paris",
        "latitude": 48.85341,
        "longitude": 2.3488,
        "country": "France",
        "country_code": "FR",
        "admin1": "Île-de-France",
    },
]


def forecast_for(query: dict[str, str]) -> dict[str, Any]:
    """A forecast whose numbers depend on the query, so the test sees they were used."""
    fahrenheit = query.get("temperature_unit") == "fahrenheit"
    temperature = 64.4 if fahrenheit else 18.0
    return {
        "latitude": float(query["latitude"]),
        "longitude": float(query["longitude"]),
        "current_units": {"temperature_2m": "°F" if fahrenheit else "°C"},
        "current": {
            "time": "2026-06-01T12:00",
            "temperature_2m": temperature,
            "apparent_temperature": temperature - 1,
            "relative_humidity_2m": 55,
            "weather_code": 61,
            "wind_speed_10m": 12.5,
        },
        "daily": {
            "time": ["2026-06-01"],
            "temperature_2m_max": [temperature + 4],
            "temperature_2m_min": [temperature - 6],
            "precipitation_probability_max": [70],
            "weather_code": [80],
        },
    }


@dataclass
class FakeOpenMeteo:
    """What the server answers; the requests it saw."""

    places: list[dict[str, Any]] = field(default_factory=lambda: list(PLACES))
    forecast_status: int = 200
    forecast_body: str | None = None  # raw body overriding the computed forecast
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stall: bool = False  # hold forecast requests until the test ends
    released: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def open_meteo() -> Iterator[tuple[FakeOpenMeteo, str]]:
    state = FakeOpenMeteo()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            state.requests.append((url.path, query))
            if url.path == "/v1/search":
                wanted = query.get("name", "").casefold()
                found = [p for p in state.places if p["name"].casefold() == wanted]
                self._send(200, json.dumps({"results": found} if found else {}))
            elif url.path == "/v1/forecast":
                if state.stall:
                    state.released.wait(timeout=30)
                body = state.forecast_body or json.dumps(forecast_for(query))
                self._send(state.forecast_status, body)
            else:
                self._send(404, "{}")

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()
        thread.join()


def weather_registry(base: str, tmp_path: Path) -> ToolRegistry:
    tools = ToolsSettings(
        data_dir=str(tmp_path),
        weather_geocoding_url=f"{base}/v1/search",
        weather_forecast_url=f"{base}/v1/forecast",
    )
    ctx = ToolContext(settings=tools, data_dir=tmp_path, now=lambda: FIXED_NOW)
    return build_registry(Settings(tools=tools), ctx)


@pytest.fixture(autouse=True)
def no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


async def test_weather_in_celsius(open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path) -> None:
    state, base = open_meteo
    result, out = await call(weather_registry(base, tmp_path), "get_weather", {"location": "Paris"})
    assert result.ok, out
    assert out == {
        "location": "Paris, Texas, United States",  # the first match when nothing says which
        "local_time": "2026-06-01T12:00",
        "conditions": "slight rain",
        "temperature": 18.0,
        "feels_like": 17.0,
        "humidity_percent": 55,
        "wind_speed": 12.5,
        "unit": "celsius",
        "wind_unit": "km/h",
        "today": {
            "high": 22.0,
            "low": 12.0,
            "chance_of_precipitation_percent": 70,
            "conditions": "slight rain showers",
        },
    }
    [(geo_path, geo), (fc_path, fc)] = state.requests
    assert geo_path == "/v1/search" and geo["name"] == "Paris"
    assert fc_path == "/v1/forecast"
    assert (fc["latitude"], fc["longitude"]) == ("33.66094", "-95.55551")
    assert fc["temperature_unit"] == "celsius"


async def test_weather_in_fahrenheit_for_a_qualified_place(
    open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path
) -> None:
    state, base = open_meteo
    result, out = await call(
        weather_registry(base, tmp_path),
        "get_weather",
        {"location": "Paris, France", "unit": "fahrenheit"},
    )
    assert result.ok, out
    assert out["location"] == "Paris, Île-de-France, France"
    assert out["temperature"] == 64.4
    assert out["unit"] == "fahrenheit" and out["wind_unit"] == "mph"
    _, forecast_query = state.requests[-1]
    assert forecast_query["latitude"] == "48.85341"
    assert forecast_query["wind_speed_unit"] == "mph"


async def test_an_unknown_place(open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path) -> None:
    state, base = open_meteo
    result, out = await call(
        weather_registry(base, tmp_path), "get_weather", {"location": "Atlantis"}
    )
    assert not result.ok
    assert out["error"] == "no place called 'Atlantis' was found; try a city name"
    assert [path for path, _ in state.requests] == ["/v1/search"]


async def test_the_service_failing(open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path) -> None:
    state, base = open_meteo
    registry = weather_registry(base, tmp_path)
    state.forecast_status = 503
    result, out = await call(registry, "get_weather", {"location": "Paris"})
    assert not result.ok
    assert out["error"] == f"the weather service at {urlsplit(base).netloc} answered HTTP 503"
    state.forecast_status, state.forecast_body = 200, "<html>maintenance</html>"
    result, out = await call(registry, "get_weather", {"location": "Paris"})
    assert not result.ok and "not JSON" in out["error"]
    state.forecast_body = json.dumps({"latitude": 1.0})
    result, out = await call(registry, "get_weather", {"location": "Paris"})
    assert not result.ok
    assert out["error"] == "the forecast service answered without current conditions"


async def test_a_stalled_service_hits_the_tool_timeout(
    open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path
) -> None:
    state, base = open_meteo
    state.stall = True
    registry = weather_registry(base, tmp_path)
    result = await registry.call("get_weather", '{"location": "Paris"}', 0.3, 16_000)
    assert not result.ok
    assert json.loads(result.output) == {"error": "get_weather did not finish within 0.3 seconds"}


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound to learn a free number, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_service_down(closed_port: int, tmp_path: Path) -> None:
    registry = weather_registry(f"http://127.0.0.1:{closed_port}", tmp_path)
    result, out = await call(registry, "get_weather", {"location": "Paris"})
    assert not result.ok
    assert out["error"].startswith(
        f"the weather service at 127.0.0.1:{closed_port} could not be reached"
    )


async def test_bad_weather_arguments(open_meteo: tuple[FakeOpenMeteo, str], tmp_path: Path) -> None:
    state, base = open_meteo
    registry = weather_registry(base, tmp_path)
    result, out = await call(registry, "get_weather", {"location": "Paris", "unit": "kelvin"})
    assert not result.ok
    assert out["problems"] == ["unit: 'kelvin' is not one of ['celsius', 'fahrenheit']"]
    result, out = await call(registry, "get_weather", {"location": " , France"})
    assert not result.ok and "names no place" in out["error"]
    assert state.requests == []
