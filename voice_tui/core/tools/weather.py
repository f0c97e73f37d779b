"""get_weather: current conditions and today's forecast from Open-Meteo (no API key).

The geocoding and forecast URLs come from `settings.tools`, so any Open-Meteo compatible
service (or a self-hosted one) works, and tests point them at a local server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from voice_tui.core.tools.registry import JsonObject, Tool, ToolContext, ToolError

# Below the registry's default tool timeout, so a slow service gets a clear message.
HTTP_TIMEOUT_S = 8.0

# WMO weather interpretation codes, as documented by Open-Meteo.
WEATHER_CODES = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snowfall",
    73: "moderate snowfall",
    75: "heavy snowfall",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}

_CURRENT = "temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m"
_DAILY = "temperature_2m_max,temperature_2m_min,precipitation_probability_max,weather_code"


def describe_code(code: Any) -> str:
    if isinstance(code, int | float) and int(code) in WEATHER_CODES:
        return WEATHER_CODES[int(code)]
    return "unknown conditions"


async def _get_json(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> Any:
    host = urlsplit(url).netloc or url
    try:
        response = await client.get(url, params=params)
    except httpx.TimeoutException as exc:
        raise ToolError(f"the weather service at {host} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"the weather service at {host} could not be reached: {exc}") from exc
    if response.status_code != 200:
        raise ToolError(f"the weather service at {host} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise ToolError(
            f"the weather service at {host} answered something that is not JSON"
        ) from exc


def _place(geo: Any, location: str, qualifier: str) -> dict[str, Any]:
    """The best match: the first result whose region or country fits the qualifier."""
    results = geo.get("results") if isinstance(geo, dict) else None
    if not isinstance(results, list) or not results:
        raise ToolError(f"no place called {location!r} was found; try a city name")
    wanted = qualifier.casefold()

    def fits(candidate: Any) -> bool:
        fields = ("country", "country_code", "admin1", "admin2")
        return isinstance(candidate, dict) and any(
            str(candidate.get(f, "")).casefold().startswith(wanted) for f in fields
        )

    place = next((r for r in results if fits(r)), results[0]) if wanted else results[0]
    if not isinstance(place, dict) or not all(
        isinstance(place.get(k), int | float) for k in ("latitude", "longitude")
    ):
        raise ToolError("the geocoding service answered without coordinates")
    return place


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


async def get_weather(args: JsonObject, ctx: ToolContext) -> JsonObject:
    location = " ".join(str(args["location"]).split())
    name, _, qualifier = location.partition(",")
    if not name.strip():
        raise ToolError("location names no place; ask which place the user means")
    unit: str = args.get("unit", "celsius")
    settings = ctx.settings
    async with httpx.AsyncClient(
        timeout=HTTP_TIMEOUT_S, headers={"User-Agent": "voice-tui"}
    ) as client:
        # Open-Meteo matches names only: "Paris, France" is searched as "Paris" and the
        # part after the comma picks among the matches.
        geo = await _get_json(
            client,
            settings.weather_geocoding_url,
            {"name": name.strip(), "count": 10, "language": "en", "format": "json"},
        )
        place = _place(geo, location, qualifier.strip())
        forecast = await _get_json(
            client,
            settings.weather_forecast_url,
            {
                "latitude": place["latitude"],
                "longitude": place["longitude"],
                "current": _CURRENT,
                "daily": _DAILY,
                "forecast_days": 1,
                "timezone": "auto",
                "temperature_unit": unit,
                "wind_speed_unit": "mph" if unit == "fahrenheit" else "kmh",
            },
        )
    current = forecast.get("current") if isinstance(forecast, dict) else None
    if not isinstance(current, dict) or "temperature_2m" not in current:
        raise ToolError("the forecast service answered without current conditions")
    daily = forecast.get("daily") if isinstance(forecast.get("daily"), dict) else {}
    found = ", ".join(
        str(part) for part in (place.get("name"), place.get("admin1"), place.get("country")) if part
    )
    return {
        "location": found or location,
        "local_time": current.get("time"),
        "conditions": describe_code(current.get("weather_code")),
        "temperature": current.get("temperature_2m"),
        "feels_like": current.get("apparent_temperature"),
        "humidity_percent": current.get("relative_humidity_2m"),
        "wind_speed": current.get("wind_speed_10m"),
        "unit": unit,
        "wind_unit": "mph" if unit == "fahrenheit" else "km/h",
        "today": {
            "high": _first(daily.get("temperature_2m_max")),
            "low": _first(daily.get("temperature_2m_min")),
            "chance_of_precipitation_percent": _first(daily.get("precipitation_probability_max")),
            "conditions": describe_code(_first(daily.get("weather_code"))),
        },
    }


GET_WEATHER = Tool(
    name="get_weather",
    description=(
        "Gets the current weather and today's forecast for a place (a city or town name)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "City or place, e.g. 'San Francisco' or 'Paris, France'.",
            },
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "description": "Temperature unit; celsius when omitted.",
            },
        },
        "required": ["location"],
        "additionalProperties": False,
    },
    handler=get_weather,
)
