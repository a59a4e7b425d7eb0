"""Floor rules: counting outcomes and who may do what."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp.domain.counting import PreviousCount, judge_count
from webapp.domain.roles import ALL_ROLES, FLOOR_ROLES, OFFICE_ROLES, Can, home_for, may

T = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("previous,disputed,quantity,expected", [
    (None, False, 50, "recorded"),
    (PreviousCount(50, T - timedelta(minutes=10), False), False, 50, "confirmed"),
    (PreviousCount(50, T - timedelta(minutes=10), False), False, 47, "discrepancy"),
    (PreviousCount(50, T - timedelta(minutes=10), True), False, 47, "recorded"),  # a transfer between
    (PreviousCount(50, T - timedelta(hours=5), False), False, 47, "recorded"),  # not close together
    (PreviousCount(50, T - timedelta(minutes=10), False), True, 47, "recount"),
])
def test_count_outcomes(previous, disputed, quantity, expected):
    assert judge_count(quantity, previous, disputed, T) == expected


def test_every_role_is_floor_or_office():
    assert FLOOR_ROLES | OFFICE_ROLES == ALL_ROLES and not FLOOR_ROLES & OFFICE_ROLES
    assert len(ALL_ROLES) == 10


@pytest.mark.parametrize("role,home", [("clerk", "floor.scan"), ("inspector", "floor.scan"),
                                       ("office", "office.dashboard"), ("follower", "office.dashboard")])
def test_people_land_where_their_work_is(role, home):
    assert home_for(role) == home


@pytest.mark.parametrize("role,allowed", [("clerk", True), ("inspector", True), ("keeper", True),
                                          ("operator", False), ("receiver", False), ("follower", False),
                                          ("office", False), (None, False)])
def test_who_may_count_a_bin(role, allowed):
    assert may(role, Can.COUNT_BIN) is allowed


@pytest.mark.parametrize("role,allowed", [("clerk", True), ("keeper", True), ("admin", True),
                                          ("inspector", False), ("operator", False), ("receiver", False),
                                          ("director", False), ("follower", False), ("office", False),
                                          (None, False)])
def test_who_may_move_a_bin(role, allowed):
    assert may(role, Can.MOVE_BIN) is allowed
