"""The Wild Brunch: availability and bookings kept in a JSON file (3 tables of 4 seats)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tools import FIXED_NOW, RegistryFactory, call
from voice_tui.core.tools import ToolRegistry
from voice_tui.core.tools.restaurant import BOOKINGS_FILE

DAY = "2026-06-06"  # a Saturday after FIXED_NOW


def bookings(data_dir: Path) -> list[dict[str, object]]:
    document = json.loads((data_dir / BOOKINGS_FILE).read_text(encoding="utf-8"))
    assert document["version"] == 1
    result: list[dict[str, object]] = document["bookings"]
    return result


async def test_an_empty_restaurant_has_every_table(registry: ToolRegistry) -> None:
    result, out = await call(registry, "check_table_availability", {"date": DAY, "party_size": 2})
    assert result.ok
    assert out == {
        "date": DAY,
        "weekday": "Saturday",
        "party_size": 2,
        "available": True,
        "tables_needed": 1,
        "tables_free": 3,
        "tables_total": 3,
        "seats_per_table": 4,
    }


async def test_booking_is_saved_and_returns_a_reference(
    registry: ToolRegistry, data_dir: Path
) -> None:
    args = {"date": DAY, "party_size": 3, "customer_name": "  Calamity   Jane ", "time": "11:30"}
    result, out = await call(registry, "book_table", args)
    assert result.ok, out
    assert out == {
        "booked": True,
        "reference": "WB-20260606-01",
        "date": DAY,
        "weekday": "Saturday",
        "time": "11:30",
        "party_size": 3,
        "customer_name": "Calamity Jane",
        "tables": 1,
    }
    [saved] = bookings(data_dir)
    assert saved["reference"] == "WB-20260606-01"
    assert saved["customer_name"] == "Calamity Jane"
    assert saved["booked_at"] == FIXED_NOW.isoformat(timespec="seconds")


async def test_a_large_party_takes_several_tables(registry: ToolRegistry) -> None:
    _, check = await call(registry, "check_table_availability", {"date": DAY, "party_size": 9})
    assert check["tables_needed"] == 3 and check["available"]
    _, booked = await call(
        registry, "book_table", {"date": DAY, "party_size": 9, "customer_name": "Dalton gang"}
    )
    assert booked["tables"] == 3 and booked["time"] is None
    _, after = await call(registry, "check_table_availability", {"date": DAY, "party_size": 1})
    assert after["available"] is False
    assert after["tables_free"] == 0
    assert after["reason"] == f"not enough tables left on {DAY}: 0 free, a party of 1 needs 1"


async def test_capacity_exhausted_refuses_the_booking(
    registry: ToolRegistry, data_dir: Path
) -> None:
    for name in ("Annie", "Wyatt"):
        result, _ = await call(
            registry, "book_table", {"date": DAY, "party_size": 4, "customer_name": name}
        )
        assert result.ok
    result, out = await call(
        registry, "book_table", {"date": DAY, "party_size": 5, "customer_name": "Doc"}
    )
    assert not result.ok
    assert (
        out["error"]
        == f"cannot book: not enough tables left on {DAY}: 1 free, a party of 5 needs 2"
    )
    assert out["availability"]["available"] is False
    assert [b["customer_name"] for b in bookings(data_dir)] == ["Annie", "Wyatt"]
    # Another day is unaffected, and references count per day.
    _, other = await call(
        registry, "book_table", {"date": "2026-06-07", "party_size": 5, "customer_name": "Doc"}
    )
    assert other["reference"] == "WB-20260607-01"


async def test_a_party_bigger_than_the_restaurant(registry: ToolRegistry) -> None:
    _, out = await call(registry, "check_table_availability", {"date": DAY, "party_size": 13})
    assert out["available"] is False
    assert out["reason"] == "The Wild Brunch has 3 tables of 4 seats: at most 12 guests on one day"


async def test_bookings_persist_across_registry_instances(make_registry: RegistryFactory) -> None:
    first = make_registry()
    _, out = await call(
        first, "book_table", {"date": DAY, "party_size": 8, "customer_name": "Butch"}
    )
    assert out["reference"] == "WB-20260606-01"
    second = make_registry()  # as after a restart
    _, check = await call(second, "check_table_availability", {"date": DAY, "party_size": 2})
    assert check["tables_free"] == 1
    _, again = await call(
        second, "book_table", {"date": DAY, "party_size": 2, "customer_name": "Sundance"}
    )
    assert again["reference"] == "WB-20260606-02"


async def test_concurrent_bookings_never_overbook(
    make_registry: RegistryFactory, data_dir: Path
) -> None:
    # Two registries (as two sessions) race for 3 tables with 6 parties of 4.
    registries = [make_registry(), make_registry()]
    results = await asyncio.gather(
        *(
            call(
                registries[i % 2],
                "book_table",
                {"date": DAY, "party_size": 4, "customer_name": f"Rider {i}"},
            )
            for i in range(6)
        )
    )
    booked = [out["reference"] for result, out in results if result.ok]
    assert sorted(booked) == ["WB-20260606-01", "WB-20260606-02", "WB-20260606-03"]
    assert len(bookings(data_dir)) == 3
    assert sum(1 for result, _ in results if not result.ok) == 3


async def test_dates_in_the_past_are_rejected(registry: ToolRegistry) -> None:
    result, out = await call(
        registry, "book_table", {"date": "2026-05-31", "party_size": 2, "customer_name": "Billy"}
    )
    assert not result.ok
    assert out["error"] == "2026-05-31 is in the past; today is 2026-06-01 (Monday)"
    result, out = await call(
        registry, "check_table_availability", {"date": "2025-12-25", "party_size": 2}
    )
    assert not result.ok and "in the past" in out["error"]


async def test_today_is_bookable_but_not_an_hour_already_gone(registry: ToolRegistry) -> None:
    today = FIXED_NOW.date().isoformat()
    gone, out = await call(
        registry,
        "book_table",
        {"date": today, "party_size": 2, "customer_name": "Jesse", "time": "09:00"},
    )
    assert not gone.ok
    assert out["error"] == f"{today} 09:00 is in the past; today is {today} (Monday)"
    later, _ = await call(
        registry,
        "book_table",
        {"date": today, "party_size": 2, "customer_name": "Jesse", "time": "13:00"},
    )
    assert later.ok


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"date": "2026-02-30", "party_size": 2}, "is not a 'date'"),
        ({"date": "next friday", "party_size": 2}, "does not match"),
        ({"date": DAY, "party_size": 0}, "less than the minimum of 1"),
        ({"date": DAY, "party_size": "four"}, "is not of type 'integer'"),
        ({"date": DAY}, "'party_size' is a required property"),
    ],
)
async def test_bad_availability_arguments(
    registry: ToolRegistry, args: dict[str, object], problem: str
) -> None:
    result, out = await call(registry, "check_table_availability", args)
    assert not result.ok
    assert any(problem in p for p in out["problems"]), out


async def test_bad_booking_arguments(registry: ToolRegistry, data_dir: Path) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"date": DAY, "party_size": 2}, "'customer_name' is a required property"),
        ({"date": DAY, "party_size": 2, "customer_name": ""}, "should be non-empty"),
        ({"date": DAY, "party_size": 2, "customer_name": "X", "time": "25:00"}, "does not match"),
    ]
    for args, problem in cases:
        result, out = await call(registry, "book_table", args)
        assert not result.ok
        assert any(problem in p for p in out["problems"]), out
    blank, out = await call(
        registry, "book_table", {"date": DAY, "party_size": 2, "customer_name": "   "}
    )
    assert not blank.ok and "customer_name is empty" in out["error"]
    assert not (data_dir / BOOKINGS_FILE).exists()


DAMAGED = '{"version": 1, "bookings": [ {"date": '


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture
def damaged_file(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    path = data_dir / BOOKINGS_FILE
    path.write_text(DAMAGED, encoding="utf-8")
    return path


async def test_a_damaged_bookings_file_is_reported_and_kept(
    registry: ToolRegistry, damaged_file: Path
) -> None:
    result, out = await call(
        registry, "book_table", {"date": DAY, "party_size": 2, "customer_name": "Belle"}
    )
    assert not result.ok
    assert "is damaged" in out["error"] and "left untouched" in out["error"]
    assert read_text(damaged_file) == DAMAGED


@pytest.fixture
def read_only_data_dir(data_dir: Path) -> Iterator[Path]:
    data_dir.mkdir(parents=True)
    data_dir.chmod(0o500)
    yield data_dir
    data_dir.chmod(0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
async def test_an_unwritable_data_dir_is_a_clear_error(
    registry: ToolRegistry, read_only_data_dir: Path
) -> None:
    result, out = await call(
        registry, "book_table", {"date": DAY, "party_size": 2, "customer_name": "Belle"}
    )
    assert not result.ok
    assert str(read_only_data_dir) in out["error"]


@pytest.fixture
def data_dir_is_a_file(data_dir: Path) -> Path:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("not a folder", encoding="utf-8")
    return data_dir


async def test_a_data_dir_that_is_a_file_is_a_clear_error(
    registry: ToolRegistry, data_dir_is_a_file: Path
) -> None:
    result, out = await call(
        registry, "book_table", {"date": DAY, "party_size": 2, "customer_name": "Belle"}
    )
    assert not result.ok
    assert out["error"].startswith(f"cannot use the data folder {data_dir_is_a_file}")
    assert read_text(data_dir_is_a_file) == "not a folder"
