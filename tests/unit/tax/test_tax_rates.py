"""Rate tables: every jurisdiction's rate pinned, and each change on its exact date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from lms_billing.domain.tax import EU_MEMBER_STATES
from lms_billing.errors import TaxRateUnavailableError, UnknownJurisdictionError
from lms_billing.tax.rates import pct, rate_period
from lms_billing.tax.rates.eu import COVERAGE_START, EU_VAT_RATES
from lms_billing.tax.rates.national import CA_GST, CA_HST, CA_PST_DIGITAL, CA_QST, NATIONAL_RATES
from lms_billing.tax.rates.us import US_STATES

D = Decimal

# Standard rates on 2025-09-01 (European Commission table; changes checked individually below).
EU_STANDARD_2025_09 = {
    "AT": "0.20", "BE": "0.21", "BG": "0.20", "CY": "0.19", "CZ": "0.21", "DE": "0.19",
    "DK": "0.25", "EE": "0.24", "ES": "0.21", "FI": "0.255", "FR": "0.20", "GR": "0.24",
    "HR": "0.25", "HU": "0.27", "IE": "0.23", "IT": "0.22", "LT": "0.21", "LU": "0.17",
    "LV": "0.21", "MT": "0.18", "NL": "0.21", "PL": "0.23", "PT": "0.23", "RO": "0.21",
    "SE": "0.25", "SI": "0.22", "SK": "0.23",
}  # fmt: skip


def test_the_eu_table_covers_exactly_the_27_member_states() -> None:
    assert set(EU_VAT_RATES) == EU_MEMBER_STATES
    assert len(EU_MEMBER_STATES) == 27


@pytest.mark.parametrize(("country", "rate"), sorted(EU_STANDARD_2025_09.items()))
def test_eu_standard_rates(country: str, rate: str) -> None:
    assert rate_period(EU_VAT_RATES, country, date(2025, 9, 1)).standard == D(rate)


@pytest.mark.parametrize(
    ("country", "changed_on", "before", "after"),
    [
        ("EE", date(2024, 1, 1), "0.20", "0.22"),
        ("EE", date(2025, 7, 1), "0.22", "0.24"),
        ("FI", date(2024, 9, 1), "0.24", "0.255"),
        ("SK", date(2025, 1, 1), "0.20", "0.23"),
        ("RO", date(2025, 8, 1), "0.19", "0.21"),
        ("LU", date(2023, 1, 1), "0.17", "0.16"),
        ("LU", date(2024, 1, 1), "0.16", "0.17"),
    ],
)
def test_eu_rate_changes_switch_on_their_exact_date(
    country: str, changed_on: date, before: str, after: str
) -> None:
    day_before = changed_on - timedelta(days=1)
    assert rate_period(EU_VAT_RATES, country, day_before).standard == D(before)
    assert rate_period(EU_VAT_RATES, country, changed_on).standard == D(after)


def test_eu_reduced_rates_follow_their_changes() -> None:
    assert rate_period(EU_VAT_RATES, "DE", date(2025, 1, 1)).reduced == (D("0.07"),)
    assert rate_period(EU_VAT_RATES, "RO", date(2025, 7, 31)).reduced == (D("0.09"), D("0.05"))
    assert rate_period(EU_VAT_RATES, "RO", date(2025, 8, 1)).reduced == (D("0.11"),)
    assert rate_period(EU_VAT_RATES, "SK", date(2025, 1, 1)).reduced == (D("0.19"), D("0.05"))
    assert rate_period(EU_VAT_RATES, "CZ", date(2024, 1, 1)).reduced == (D("0.12"),)
    assert rate_period(EU_VAT_RATES, "DK", date(2025, 1, 1)).reduced == ()


def test_finland_reduced_rate_drops_to_13_5_percent_on_2026_01_01() -> None:
    # Finnish Tax Administration (vero.fi): 14 % -> 13.5 %; 25.5 % and 10 % unchanged.
    before = rate_period(EU_VAT_RATES, "FI", date(2025, 12, 31))
    after = rate_period(EU_VAT_RATES, "FI", date(2026, 1, 1))
    assert (before.standard, before.reduced) == (D("0.255"), (D("0.14"), D("0.10")))
    assert (after.standard, after.reduced) == (D("0.255"), (D("0.135"), D("0.10")))


def test_malta_adds_a_12_percent_reduced_rate_on_2024_01_01() -> None:
    # Legal Notice 231 of 2023 (Commissioner for Revenue, cfr.gov.mt).
    assert rate_period(EU_VAT_RATES, "MT", date(2023, 12, 31)).reduced == (D("0.07"), D("0.05"))
    assert rate_period(EU_VAT_RATES, "MT", date(2024, 1, 1)).reduced == (
        D("0.12"),
        D("0.07"),
        D("0.05"),
    )


def test_periods_are_sorted_by_start() -> None:
    for table in (EU_VAT_RATES, NATIONAL_RATES, CA_HST):
        for periods in table.values():
            starts = [p.start for p in periods]
            assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_dates_before_coverage_raise() -> None:
    with pytest.raises(TaxRateUnavailableError) as info:
        rate_period(EU_VAT_RATES, "DE", COVERAGE_START - timedelta(days=1))
    assert info.value.details["coverage_start"] == "2021-07-01"
    assert rate_period(EU_VAT_RATES, "DE", COVERAGE_START).standard == D("0.19")


def test_unknown_jurisdictions_raise() -> None:
    with pytest.raises(UnknownJurisdictionError):
        rate_period(EU_VAT_RATES, "US", date(2025, 1, 1))


@pytest.mark.parametrize(
    ("country", "rate"),
    [("GB", "0.20"), ("NO", "0.25"), ("CH", "0.081"), ("AU", "0.10"), ("JP", "0.10")],
)
def test_national_standard_rates(country: str, rate: str) -> None:
    assert rate_period(NATIONAL_RATES, country, date(2025, 9, 1)).standard == D(rate)


def test_switzerland_rate_change_on_2024_01_01() -> None:
    assert rate_period(NATIONAL_RATES, "CH", date(2023, 12, 31)).standard == D("0.077")
    assert rate_period(NATIONAL_RATES, "CH", date(2024, 1, 1)).standard == D("0.081")


def test_japan_table_starts_with_the_10_percent_rate() -> None:
    assert rate_period(NATIONAL_RATES, "JP", date(2019, 10, 1)).standard == D("0.10")
    with pytest.raises(TaxRateUnavailableError):
        rate_period(NATIONAL_RATES, "JP", date(2019, 9, 30))


def test_canada_rates() -> None:
    on = date(2025, 9, 1)
    assert rate_period(CA_GST, "CA", on).standard == D("0.05")
    assert rate_period(CA_HST, "ON", on).standard == D("0.13")
    assert rate_period(CA_HST, "NB", on).standard == D("0.15")
    assert rate_period(CA_QST, "QC", on).standard == D("0.09975")
    assert rate_period(CA_PST_DIGITAL, "BC", on).standard == D("0.07")
    assert rate_period(CA_PST_DIGITAL, "SK", on).standard == D("0.06")
    assert rate_period(CA_HST, "NS", date(2025, 3, 31)).standard == D("0.15")
    assert rate_period(CA_HST, "NS", date(2025, 4, 1)).standard == D("0.14")


# State base rates on 2025-09-01 (percent), per the state revenue departments as summarised by
# the Federation of Tax Administrators; local taxes are not part of the table.
US_STATE_RATES_2025_09 = {
    "AK": "0", "AL": "4", "AR": "6.5", "AZ": "5.6", "CA": "7.25", "CO": "2.9", "CT": "6.35",
    "DC": "6", "DE": "0", "FL": "6", "GA": "4", "HI": "4", "IA": "6", "ID": "6", "IL": "6.25",
    "IN": "7", "KS": "6.5", "KY": "6", "LA": "5", "MA": "6.25", "MD": "6", "ME": "5.5",
    "MI": "6", "MN": "6.875", "MO": "4.225", "MS": "7", "MT": "0", "NC": "4.75", "ND": "5",
    "NE": "5.5", "NH": "0", "NJ": "6.625", "NM": "4.875", "NV": "6.85", "NY": "4",
    "OH": "5.75", "OK": "4.5", "OR": "0", "PA": "6", "RI": "7", "SC": "6", "SD": "4.2",
    "TN": "7", "TX": "6.25", "UT": "4.85", "VA": "4.3", "VT": "6", "WA": "6.5", "WI": "5",
    "WV": "6", "WY": "4",
}  # fmt: skip


@pytest.mark.parametrize(("state", "percent"), sorted(US_STATE_RATES_2025_09.items()))
def test_every_us_state_rate(state: str, percent: str) -> None:
    periods = {state: US_STATES[state].periods}
    assert rate_period(periods, state, date(2025, 9, 1)).standard == pct(percent)


@pytest.mark.parametrize(
    ("state", "rate"),
    [("CA", "0.0725"), ("NY", "0.04"), ("TX", "0.0625"), ("WA", "0.065"), ("OR", "0")],
)
def test_us_state_rates(state: str, rate: str) -> None:
    periods = US_STATES[state].periods
    assert rate_period({state: periods}, state, date(2025, 9, 1)).standard == D(rate)


def test_louisiana_rate_change_on_2025_01_01() -> None:
    periods = {"LA": US_STATES["LA"].periods}
    assert rate_period(periods, "LA", date(2024, 12, 31)).standard == D("0.0445")
    assert rate_period(periods, "LA", date(2025, 1, 1)).standard == D("0.05")


def test_us_table_has_the_50_states_and_dc() -> None:
    assert len(US_STATES) == 51
    assert set(US_STATES) == set(US_STATE_RATES_2025_09)
